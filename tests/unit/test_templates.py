"""Messages escape whatever a person typed; a missing value is an error, not a blank."""

import pytest
from jinja2 import UndefinedError

from prompts.render import Templates


def test_a_name_full_of_html_is_shown_not_interpreted() -> None:
    text = Templates().render(
        "start", first_name='<b>Mike</b> & <a href="x">co</a>', seats_left=3, coach=None
    )
    assert "&lt;b&gt;Mike&lt;/b&gt; &amp; &lt;a href=&#34;x&#34;&gt;co&lt;/a&gt;" in text
    assert "<b>Between</b>" in text  # the template's own markup stays


@pytest.mark.parametrize(
    ("seats_left", "expected"),
    [(None, "The group opens soon."), (1, "1 seat left."), (5, "5 seats left."), (0, "full")],
)
def test_start_tells_the_seats_left(seats_left: int | None, expected: str) -> None:
    assert expected in Templates().render(
        "start", first_name="Ana", seats_left=seats_left, coach=None
    )


def test_start_carries_the_not_for_crisis_note() -> None:
    text = Templates().render("start", first_name="Ana", seats_left=2, coach=None)
    assert "not a crisis service" in text
    assert "988" in text and "116 123" in text and "findahelpline.com" in text


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(UndefinedError):
        Templates().render("start", first_name="Ana")
