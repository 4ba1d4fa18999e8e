"""The safety net's check, alone: messages checked per second.

    python -m bench.safety

The check runs on every update with words, so it has to be cheap. The messages are the safety
net's own sets (tests/safety/messages), risk and benign in five languages, checked over and
over by one matcher built once; no database and no network are involved.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.harness import Target, run_part, table
from prompts.loader import load_library
from safety.matcher import RiskMatcher

MESSAGES = Path(__file__).parents[1] / "tests" / "safety" / "messages"
ROUNDS = 20


def texts() -> list[str]:
    return [
        line.split(" | ", 1)[1]
        for path in sorted(MESSAGES.glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]


async def measure(_where: list[Target], _redis_url: str) -> None:
    started = time.perf_counter()
    matcher = RiskMatcher(load_library())
    compiled = time.perf_counter() - started
    messages = texts()
    long_ones = [" ".join(messages[i : i + 8]) for i in range(0, len(messages), 8)]
    rows = []
    for name, batch in (("one message", messages), ("eight messages in one", long_ones)):
        started = time.perf_counter()
        for _ in range(ROUNDS):
            for text in batch:
                matcher.assess(text)
        elapsed = time.perf_counter() - started
        count = ROUNDS * len(batch)
        rows.append((name, len(batch), round(count / elapsed), round(1e6 * elapsed / count)))
    print("## 8. The safety net's check\n")
    print(f"Lexicons compiled once in {compiled * 1000:.0f} ms.\n")
    print(table(["messages", "distinct", "checked/s", "µs each"], rows))
    print()


if __name__ == "__main__":
    run_part(measure, __doc__.splitlines()[0])
