"""A small HTTP/1.1 keep-alive load client on asyncio streams, run in N processes ("threads").

Light enough that the client does not become the bottleneck on a 2-core machine: request bodies
are built ahead of each send with plain byte formatting, and responses are parsed minimally.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from collections.abc import Callable
from typing import Any

BodyFactory = Callable[[int, int], bytes]  # (worker index, sequence number) -> body


async def _connection(
    host: str,
    port: int,
    path: str,
    headers: bytes,
    make_body: BodyFactory,
    worker: int,
    seqs: Any,
    deadline: float,
    stats: dict[str, Any],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            seq = next(seqs)
            body = make_body(worker, seq)
            start = time.perf_counter()
            writer.write(
                b"POST "
                + path.encode()
                + b" HTTP/1.1\r\nHost: "
                + host.encode()
                + b"\r\n"
                + headers
                + b"Content-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            stats["latencies"].append(time.perf_counter() - start)
            status = int(status_line.split()[1])
            stats["status"][status] = stats["status"].get(status, 0) + 1
            if 200 <= status < 300:
                stats["ok_seqs"].append(seq)
    finally:
        writer.close()


def _worker(args: tuple[Any, ...]) -> dict[str, Any]:
    host, ports, path, headers, make_body, worker, connections, seconds = args
    stats: dict[str, Any] = {"latencies": [], "status": {}, "ok_seqs": []}

    async def run() -> None:
        counter = iter(range(10**12))
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _connection(
                    host,
                    # Several servers (scale-out): connections spread over them evenly.
                    ports[(worker * connections + c) % len(ports)],
                    path,
                    headers,
                    make_body,
                    worker,
                    counter,
                    deadline,
                    stats,
                )
                for c in range(connections)
            )
        )

    asyncio.run(run())
    return stats


def run_load(
    host: str,
    port: int | list[int],
    path: str,
    make_body: BodyFactory,
    threads: int,
    connections: int,
    seconds: float,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Runs `threads` client processes with `connections` keep-alive connections each (spread
    over the ports when given several)."""
    ports = port if isinstance(port, list) else [port]
    headers = b"Content-Type: application/json\r\n" + b"".join(
        f"{k}: {v}\r\n".encode() for k, v in (extra_headers or {}).items()
    )
    ctx = mp.get_context("fork")
    start = time.perf_counter()
    with ctx.Pool(threads) as pool:
        results = pool.map(
            _worker,
            [
                (host, ports, path, headers, make_body, w, connections, seconds)
                for w in range(threads)
            ],
        )
    elapsed = time.perf_counter() - start
    merged: dict[str, Any] = {"latencies": [], "status": {}, "ok": []}
    for w, r in enumerate(results):
        merged["latencies"] += r["latencies"]
        for k, v in r["status"].items():
            merged["status"][k] = merged["status"].get(k, 0) + v
        merged["ok"] += [(w, s) for s in r["ok_seqs"]]
    merged["elapsed"] = elapsed
    return merged
