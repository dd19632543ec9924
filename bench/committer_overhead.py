"""What GroupCommitter.submit itself costs, without the database (ingest is a no-op): the queue,
the hand-off to the writer thread, the back-pressure bookkeeping. On a loaded machine the HTTP
benchmark's noise hides differences of a few percent; this isolates the committer's share.

    python bench/committer_overhead.py [--loop uvloop|asyncio]   (uvloop is what serve runs)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from warroom.alerts.service import IngestResult  # noqa: E402
from warroom.intake import committer as committer_module  # noqa: E402
from warroom.intake.common import ParsedRequest  # noqa: E402


class NoDatabase:
    @contextmanager
    def session(self) -> Iterator[None]:
        yield None


def no_ingest(_session: Any, requests: list[ParsedRequest], *_args: Any) -> list[IngestResult]:
    return [IngestResult([]) for _ in requests]


async def submits(committer: Any, total: int, concurrency: int) -> float:
    request = ParsedRequest("generic", "key", [])

    async def client(count: int) -> None:
        for _ in range(count):
            await committer.submit(request)

    start = time.perf_counter()
    await asyncio.gather(*(client(total // concurrency) for _ in range(concurrency)))
    return (time.perf_counter() - start) / total * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--submits", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    committer_module.ingest_batch = no_ingest  # type: ignore[assignment]
    committer = committer_module.GroupCommitter(NoDatabase(), [[1, 2, 3], [2, 3, 4], [3, 4, 4]])  # type: ignore[arg-type]
    committer.start()
    if args.loop == "uvloop":
        import uvloop

        run: Any = uvloop.run
    else:
        run = asyncio.run
    for concurrency in (1, 16):
        micros = [run(submits(committer, args.submits, concurrency)) for _ in range(args.runs)]
        print(
            f"{args.loop}, {concurrency:>2} in flight: {statistics.median(micros):6.1f} us per "
            f"submit (min {min(micros):.1f}, max {max(micros):.1f}; {args.runs} runs)"
        )
    committer.stop()


if __name__ == "__main__":
    main()
