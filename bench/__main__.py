"""Every benchmark, one after the other: `python -m bench [--postgres URL] [part ...]`.

Parts: updates, delivery, stripe_events, seats, summaries, dashboard, safety, profile. Each
also runs alone as `python -m bench.<part>`. The output is Markdown, ready for bench/README.md.
"""

from __future__ import annotations

import asyncio
import os
import platform
from datetime import UTC, datetime

from bench import dashboard, delivery, profile, safety, seats, stripe_events, summaries, updates
from bench.harness import Part, arguments, redis_server, targets

PARTS: dict[str, Part] = {
    "updates": updates.measure,
    "delivery": delivery.measure,
    "stripe_events": stripe_events.measure,
    "seats": seats.measure,
    "summaries": summaries.measure,
    "dashboard": dashboard.measure,
    "safety": safety.measure,
}


async def run(chosen: list[str], postgres_url: str | None, redis_url: str) -> None:
    where = targets(postgres_url)
    for name in chosen:
        if name == "profile":
            for private in (False, True):
                await profile.profile(where[-1], redis_url, profile.UPDATES, private=private)
        else:
            await PARTS[name](where, redis_url)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    everything = [*PARTS, "profile"]
    parser.add_argument("parts", nargs="*", metavar="part", help=", ".join(everything))
    args = parser.parse_args()
    if unknown := set(args.parts) - set(everything):
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    print(f"# Between benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"Python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} cores\n")
    with redis_server() as redis_url:
        asyncio.run(run(args.parts or everything, args.postgres, redis_url))


if __name__ == "__main__":
    main()
