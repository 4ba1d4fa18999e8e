"""Logging: ids and kinds only. Message text and secrets never reach a log line."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    # Each request line of the HTTP client libraries would repeat what our own logs say.
    for noisy in ("aiohttp.access", "httpx", "stripe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
