"""Messages escape whatever a person typed; a missing value is an error, not a blank."""

import pytest
from jinja2 import UndefinedError

from core.pricing import Price
from core.privacy import Forgotten
from prompts.render import TEMPLATES_DIR, Templates


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


def test_counts_agree_with_their_nouns() -> None:
    one = Forgotten(entries=1, summaries=1, questions=1, replies=1, messages=1, still_paying=False)
    text = Templates().render("forgotten", done=one)
    assert text.startswith("Done. 1 check-in, 1 summary, 1 question and 1 reply are deleted.")
    recap = {"checkins": 1, "people": 1, "feelings": 1, "wins": 1}
    shown = Templates().render("group_recap", recap=recap, counted=True)
    assert "1 check-in from 1 person, 1 feeling named, 1 win." in shown


def test_the_price_comes_from_one_place() -> None:
    euros = Templates(price=Price(2900, "eur"))
    start = euros.render("start", first_name="Ana", seats_left=2, coach=None)
    assert "€29 a month" in start and "€0.94 a day" in start and "$" not in start
    assert "$31 a month" in Templates().render("start", first_name="Ana", seats_left=2, coach=None)
    hard_coded = [path.name for path in TEMPLATES_DIR.glob("*.html") if "$31" in path.read_text()]
    assert hard_coded == []


def test_a_group_recap_in_a_small_group_has_no_numbers() -> None:
    recap = {"checkins": 7, "people": 2, "feelings": 3, "wins": 1}
    shown = Templates().render("group_recap", recap=recap, counted=False)
    assert not any(char.isdigit() for char in shown)
