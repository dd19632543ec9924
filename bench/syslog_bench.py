"""Syslog intake with 100 log rules against the same receiver with none (its own ceiling).

    python bench/syslog_bench.py [--lines 200000] [--seconds 5]

Two measurements, each with no rules and with 100 rules beside it in the same run:
- pipeline: what the receiver does per line (RFC 5424 parse + rule evaluation), in-process;
- UDP: a sender process blasts datagrams at the real receiver thread (`LogReceiver`, as
  `warroom serve` runs it) for --seconds; lines counted by the receiver per second (UDP drops
  what the receiver cannot take, so this is its sustained rate).
The 100 rules: 60 on an app name (eq), 30 regexes on the message (one RE2 set), 10 per-host
status thresholds; the lines are a mix that matches some of each.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from warroom.monitors.logrules import Condition, Rule, RuleSet  # noqa: E402
from warroom.monitors.syslog import parse  # noqa: E402

WORDS = ["timeout", "refused", "denied", "overflow", "panic", "deadlock", "OOM", "corrupt"]


def hundred_rules() -> list[Rule]:
    rules: list[Rule] = []
    for i in range(60):
        rules.append(Rule(i + 1, f"app {i}", (Condition("app", "eq", f"app{i}"),), 50, 60))
    for i in range(30):
        word = WORDS[i % len(WORDS)]
        rules.append(
            Rule(100 + i, f"re {i}", (Condition("message", "regex", rf"{word}\s+#{i}\b"),), 10)
        )
    for i in range(10):
        rules.append(
            Rule(
                200 + i,
                f"5xx {i}",
                (
                    Condition("app", "eq", "nginx"),
                    Condition("status", "ge", str(500 + i)),
                ),
                50,
                60,
                "host",
            )
        )
    return rules


def lines(count: int) -> list[bytes]:
    out = []
    for n in range(count):
        app = "nginx" if n % 5 == 0 else f"app{n % 97}"
        word = WORDS[n % len(WORDS)]
        out.append(
            (
                f"<13>1 2026-11-27T09:00:00.{n % 1000:03d}Z web-{n % 20} {app} {n} - "
                f'[req status="{500 + n % 12 if n % 3 == 0 else 200}"] '
                f"request {n} finished with {word} #{n % 40} after {n % 900} ms"
            ).encode()
        )
    return out


def pipeline(data: list[bytes], rules: list[Rule]) -> float:
    ruleset = RuleSet(rules)
    start = time.perf_counter()
    now = 0.0
    for raw in data:
        now += 0.0001
        line = parse(raw)
        if ruleset.rules:
            ruleset.observe(line, now)
    return len(data) / (time.perf_counter() - start)


def blast(port: int, data: list[bytes], seconds: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stop = time.time() + seconds
    while time.time() < stop:
        for raw in data[:2000]:
            sock.sendto(raw, ("127.0.0.1", port))


def udp(data: list[bytes], rules: list[Rule], seconds: float) -> float:
    from warroom.monitors.logs import LogReceiver

    class NoDb:
        pass

    async def submit(_request: object) -> None:
        return None

    receiver = LogReceiver(NoDb(), submit, udp_port=0)  # type: ignore[arg-type]
    receiver.reload = lambda: None  # type: ignore[method-assign]
    receiver.rules = RuleSet(rules)
    receiver.start()
    sender = mp.get_context("fork").Process(target=blast, args=(receiver.udp_port, data, seconds))
    time.sleep(0.2)
    before = receiver.counts.lines
    start = time.perf_counter()
    sender.start()
    sender.join()
    rate = (receiver.counts.lines - before) / (time.perf_counter() - start)
    receiver.stop()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, load {os.getloadavg()}")
    data = lines(args.lines)
    rules = hundred_rules()
    none = pipeline(data, [])
    hundred = pipeline(data, rules)
    print(f"pipeline  no rules: {none:9,.0f} lines/s")
    print(f"pipeline 100 rules: {hundred:9,.0f} lines/s   ratio {hundred / none:.2f}x")
    u_none = udp(data, [], args.seconds)
    u_hundred = udp(data, rules, args.seconds)
    print(f"UDP       no rules: {u_none:9,.0f} lines/s")
    print(f"UDP      100 rules: {u_hundred:9,.0f} lines/s   ratio {u_hundred / u_none:.2f}x")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
