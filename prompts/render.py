"""Messages are jinja2 templates in Telegram's HTML; whatever a person typed is escaped.

Every template can use a few globals: `price` (the default price, rendered in one place; a
message about one group is given that group's price, in the reader's language, as `price`),
`automatic` (the line that says a message was sent by the bot, not written by a person) and
`plural(count, "summary", "summaries")` ("1 summary", "2 summaries").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from core.longtext import cap
from core.models import Group
from core.pricing import Price, price_of

TEMPLATES_DIR = Path(__file__).parent / "templates"

AUTOMATIC = Markup("<i>Sent automatically by Between.</i>")

# How a tool's fill-in template shows its blanks: {what} becomes [what happened].
BLANKS = {
    "what": "what happened",
    "feeling": "the feeling",
    "need": "what you need",
    "person": "their name",
    "offer": "what you can offer",
    "when": "a time",
    "action": "what you'll do",
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def plural(count: int, one: str, many: str | None = None) -> str:
    """ "1 summary", "2 summaries", "0 check-ins"."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def blanks(template: str) -> Markup:
    """A fill-in sentence with readable blanks instead of {placeholders}."""
    parts = _PLACEHOLDER.split(template)
    shown = [
        escape(part) if index % 2 == 0 else Markup("<i>[{}]</i>").format(_blank(part))
        for index, part in enumerate(parts)
    ]
    return Markup("").join(shown)


def _blank(name: str) -> str:
    return BLANKS.get(name, name.replace("_", " "))


class Templates:
    """Renders the message templates (`prompts/templates/*.html`)."""

    def __init__(self, directory: Path = TEMPLATES_DIR, *, price: Price | None = None) -> None:
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
        self.price = price or Price()
        self._env.globals.update(price=self.price, automatic=AUTOMATIC, plural=plural)
        self._env.filters["blanks"] = blanks

    def price_for(self, group: Group | None, language_code: str | None = None) -> Price:
        """The price members of `group` pay (the default without one), in their language."""
        return price_of(group, self.price).in_locale(language_code)

    def render(self, name: str, /, **context: Any) -> str:
        """Render `name` (without `.html`) to a Telegram HTML message."""
        return self._env.get_template(f"{name}.html").render(**context).strip()
