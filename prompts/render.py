"""Messages are jinja2 templates in Telegram's HTML; whatever a person typed is escaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.longtext import cap

TEMPLATES_DIR = Path(__file__).parent / "templates"


class Templates:
    """Renders the message templates (`prompts/templates/*.html`)."""

    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        # `{{ words|cap(500) }}`: a member's words quoted in a message, cut to fit.
        self._env.filters["cap"] = cap

    def render(self, name: str, /, **context: Any) -> str:
        """Render `name` (without `.html`) to a Telegram HTML message."""
        return self._env.get_template(f"{name}.html").render(**context).strip()
