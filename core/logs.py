"""Logging: ids and kinds only. Message text and secrets never reach a log line."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format=FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
    quiet_libraries()


def quiet_libraries() -> None:
    """Libraries that would log what members wrote, or repeat our own lines, stay quiet."""
    # aiosqlite logs every statement with its parameters (members' words) at DEBUG; the HTTP
    # clients' request lines would only repeat what our own logs say.
    for noisy in ("aiosqlite", "aiohttp.access", "httpx", "stripe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
