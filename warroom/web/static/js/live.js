// Live updates: an EventSource says that something changed; this fetches the changed parts of
// the page and swaps them in. Without JavaScript the pages still work, with a reload.

const main = document.querySelector("main[data-live]");

async function fetchFragment(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (response.redirected && new URL(response.url).pathname === "/login") {
    // The session ended (signed out elsewhere, expired): go and sign in again.
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new Error("signed out");
  }
  if (!response.ok) throw new Error("HTTP " + response.status);
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  return { fragment: template.content, response };
}

// A part of the page the user is working in (focus inside, or a field changed) is left alone
// until the next update, so live updates never eat what someone is typing.
function busy(element) {
  if (element.contains(document.activeElement) && document.activeElement !== document.body) return true;
  for (const field of element.querySelectorAll("input, textarea, select")) {
    if (field.type === "hidden") continue;
    if (field.tagName === "SELECT") {
      for (const option of field.options) if (option.selected !== option.defaultSelected) return true;
    } else if (field.type === "checkbox" || field.type === "radio") {
      if (field.checked !== field.defaultChecked) return true;
    } else if (field.value !== field.defaultValue) return true;
  }
  // An open "Assign…" or "Owner and due…" box: the user is about to choose something.
  return element.querySelector("details[open]") !== null;
}

// Every tab of a browser shares one live stream through a shared worker (ADR 10); where there
// are no shared workers (Chrome on Android), a tab asks for the versions every few seconds with
// a plain request, which holds no connection open.
const POLL_MS = 5000;

function follow(topic, currentVersion, refresh) {
  let pending = false;
  let again = false;

  async function run() {
    if (pending) { again = true; return; }
    pending = true;
    try { await refresh(); } catch (error) { console.warn("live update failed", error); }
    pending = false;
    if (again) { again = false; run(); }
  }

  let gone = false;
  function seen(versions) {
    if (!(topic in versions)) return;
    // null: the incident is gone (merged or deleted); one refresh shows what became of it.
    if (versions[topic] === null) { if (!gone) { gone = true; run(); } return; }
    gone = false;
    if (versions[topic] !== currentVersion()) run();
  }

  if ("SharedWorker" in window) {
    const worker = new SharedWorker(new URL("./live-worker.js", import.meta.url).pathname, { name: "warroom-live" });
    worker.port.onmessage = ({ data }) => {
      if (data.versions) seen(data.versions);
      else if (data.failed) run();
    };
    worker.port.start();
    worker.port.postMessage({ follow: topic });
    window.addEventListener("pagehide", () => worker.port.postMessage({ leave: true }));
  } else {
    async function poll() {
      if (document.visibilityState === "visible") {
        try {
          const response = await fetch("/events/versions?topics=" + encodeURIComponent(topic), {
            credentials: "same-origin", headers: { Accept: "application/json" },
          });
          if (response.ok && !response.redirected) seen(await response.json());
          else run();
        } catch (error) { console.warn("live poll failed", error); }
      }
      setTimeout(poll, POLL_MS);
    }
    poll();
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") run(); });
  }
  // Relative times and SLA clocks move on even when nothing else changes.
  setInterval(run, 30000);
}

function followDashboard() {
  const current = () => document.getElementById("dashboard-live");
  follow("dashboard", () => current().dataset.version, async () => {
    const { fragment } = await fetchFragment(current().dataset.fragment);
    const fresh = fragment.getElementById("dashboard-live");
    if (fresh) current().replaceWith(fresh);
  });
}

function followIncident() {
  const id = main.dataset.incident;
  const timeline = document.getElementById("timeline");

  function lastEventId() {
    const items = timeline.querySelectorAll("li[data-id]");
    return items.length ? Number(items[items.length - 1].dataset.id) : 0;
  }

  function insert(item) {
    const itemId = Number(item.dataset.id);
    if (document.getElementById(item.id)) return;
    item.classList.add("fresh");
    // Keep id order: an event can commit after a later one was shown.
    const after = [...timeline.querySelectorAll("li[data-id]")].find((li) => Number(li.dataset.id) > itemId);
    timeline.insertBefore(item, after || null);
  }

  async function refreshTimeline() {
    const { fragment, response } = await fetchFragment(`/incidents/${id}/timeline.fragment?after=${lastEventId()}`);
    for (const item of [...fragment.querySelectorAll("li[data-id]")]) insert(item);
    const total = Number(response.headers.get("X-Timeline-Total") || "0");
    const hiddenNote = document.getElementById("timeline-hidden");
    const shown = timeline.querySelectorAll("li[data-id]").length;
    if (!hiddenNote && total > shown) {
      // Missed an event committed out of id order: reload the list.
      const full = await fetchFragment(`/incidents/${id}/timeline.fragment`);
      timeline.replaceChildren(...full.fragment.querySelectorAll("li[data-id]"));
    }
  }

  async function refreshPanels() {
    const { fragment } = await fetchFragment(`/incidents/${id}/panels.fragment`);
    for (const panel of fragment.querySelectorAll("[data-panel][id]")) {
      const old = document.getElementById(panel.id);
      if (old && !busy(old)) old.replaceWith(panel);
    }
    const root = fragment.querySelector("[data-version]");
    if (root) main.dataset.version = root.dataset.version;
  }

  follow(`incident:${id}`, () => main.dataset.version, async () => {
    await Promise.all([refreshTimeline(), refreshPanels()]);
  });
}

if (main) {
  if (main.dataset.live === "dashboard") followDashboard();
  else if (main.dataset.live === "incident") followIncident();
}
