"""Logging: ids and kinds only. Message text and secrets never reach a log line."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format=FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
    quiet_libraries()


def quiet_libraries() -> None:
    # Each request line of the HTTP client libraries would repeat what our own logs say.
    for noisy in ("aiohttp.access", "httpx", "stripe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
