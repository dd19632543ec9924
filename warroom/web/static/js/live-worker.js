// One live stream for every Warroom tab of this browser (ADR 10). Browsers open at most six
// connections per host over HTTP/1.1; one stream per tab used them all up with six tabs open,
// and the seventh page never loaded. Tabs tell this shared worker what they show; it holds one
// EventSource for the union and passes each change to every tab.

const ports = new Map(); // port -> Set of topics
let source = null;
let streaming = "";
let reconnect = null;
let last = {};

function wanted() {
  const all = new Set(["dashboard"]);
  for (const topics of ports.values()) for (const t of topics) all.add(t);
  return [...all].sort();
}

function broadcast(message) {
  for (const port of ports.keys()) port.postMessage(message);
}

function connect() {
  reconnect = null;
  const topics = wanted().join(",");
  if (source && topics === streaming && source.readyState !== EventSource.CLOSED) return;
  if (source) source.close();
  streaming = topics;
  source = new EventSource("/events/stream?topics=" + encodeURIComponent(topics));
  source.addEventListener("versions", (event) => {
    last = JSON.parse(event.data);
    broadcast({ versions: last });
  });
  source.onerror = () => {
    // EventSource retries by itself unless the answer was not a stream (the sign-in page after
    // the session ended): the tabs check with a plain fetch, and the worker tries again later.
    if (source.readyState === EventSource.CLOSED) {
      broadcast({ failed: true });
      if (!reconnect) reconnect = setTimeout(connect, 5000);
    }
  };
}

function soon() {
  // Tabs opening together (a restored session) make one reconnect, not ten.
  if (reconnect) clearTimeout(reconnect);
  reconnect = setTimeout(connect, 150);
}

self.onconnect = (event) => {
  const port = event.ports[0];
  ports.set(port, new Set());
  port.onmessage = ({ data }) => {
    if (data.follow) {
      ports.get(port).add(data.follow);
      if (data.follow in last) port.postMessage({ versions: last });
      soon();
    } else if (data.leave) {
      ports.delete(port);
      if (ports.size === 0 && source) { source.close(); source = null; streaming = ""; }
      else soon();
    }
  };
  port.start();
};
