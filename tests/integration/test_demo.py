"""`between demo` plays its scenes end to end against the sandbox and shows what people saw."""

from io import StringIO
from pathlib import Path

from rich.console import Console

from app.demo import run_demo

CHROMIUM_INSTALLED = Path("/usr/bin/chromium").exists()


async def test_the_demo_shows_setup_welcome_and_the_webhooks(tmp_path: Path) -> None:
    output = StringIO()
    page = tmp_path / "demo.html"

    scenes = await run_demo(
        html_path=str(page),
        console=Console(file=output, width=200),
        data_dir=tmp_path / "demo",
    )

    printed = output.getvalue()
    assert [scene.title.split(" · ")[0] for scene in scenes] == [
        "The coach sets up the group",
        "People find the bot",
        "Behind the scenes",
        "Joining: four people, three seats",
        "The gate",
        "A day of practice",
        "Members write, whenever it happens",
        "The coach's ten minutes",
        "A quiet member",
        "The live Q&A is scheduled",
        "A week of practice",
        "Weekly summaries",
        "A card fails",
        "Three days later",
        "Your data, your call",
        "The coach's dashboard",
    ]
    assert "I'm set up in Between · November circle" in printed
    assert "• Ban users" in printed
    assert "I have every right I need" in printed
    assert "Hello, Sam <3." in printed  # an HTML-ish name shown as typed
    assert "12 seats left" in printed
    assert "What you can do here" in printed
    assert "(customer.created) → 200" in printed
    assert "forged Stripe event → 400" in printed
    assert "stored once, ignored" in printed
    assert "wrong secret → 401" in printed
    assert '/healthz → 200 {"status": "ok", "database": "ok", "redis": "ok"}' in printed
    assert printed.count("I'm really glad you're here") == 4  # Maya, Sam, Jon, later Leah
    assert "you are number 1" in printed
    assert "I couldn't let you in through that link" in printed
    assert "(Kim is no longer in the group)" in printed
    assert "your last payment for Between didn't go through" in printed
    assert "a seat opened in Between · November circle" in printed
    assert "(Jon is no longer in the group)" in printed
    assert "Seats: 3 · taken 3 · held 0 · free 0 · waitlist 0" in printed
    assert "Inner kid week · Tuesday" in printed  # the daily prompt, a themed week
    assert "Sam <3: (voice)" in printed
    assert "You named it: afraid." in printed
    assert "#win I said no to the extra shift" in printed
    assert 'matched "better off without me"' in printed  # the coach's alert
    assert "I read what you wrote" in printed  # Sam's crisis lines, in private
    writing = printed[printed.index("Members write") : printed.index("The coach's ten minutes")]
    assert writing.count("Got it, ") == 2  # Maya and Sam; Jon wrote in the group
    assert "Your coach answers once a day, Sunday to Thursday" in printed
    assert printed.index("🚨 Urgent") < printed.index("⏳ Waiting for you")
    assert "Sent to Sam <3 ✓" in printed and "Sent to Maya ✓" in printed
    assert "just checking in" in printed
    assert "📅 Live Q&A: Wednesday 25 November, 18:00 (Europe/London)" in printed
    assert "Live Q&A tomorrow" in printed and "Live Q&A in one hour" in printed
    assert "1. Maya: How do I stop replaying conversations at night?" in printed
    assert "Draft for Maya" in printed and "This was a quiet week" in printed  # Jon's
    assert "Our week together" in printed
    assert "📎 between-my-data.json" in printed and "📎 between-my-data.html" in printed
    assert "📎 between-live-qa.ics" in printed
    assert "Jon used /forget" in printed
    assert "Hello, Sam &lt;3." in page.read_text()
    logged = (tmp_path / "demo.log").read_text()
    for words in ("Tight chest", "better off without me", "I said no to the extra shift"):
        assert words in printed and words not in logged  # the log has ids and kinds only
    # The coach's dashboard, opened with the link /dashboard sends, kept next to the transcript.
    assert "Open it in your browser: http://127.0.0.1:" in printed
    assert "The link works once, for 10 minutes" in printed
    assert "presses it → 303, a cookie (HttpOnly, SameSite=Lax)" in printed
    assert "tries it again → 403" in printed
    dashboard = (tmp_path / "demo" / "dashboard.html").read_text()
    assert "Between · November circle" in dashboard and "Seats and money" in dashboard
    assert "Maya: checked in on" in dashboard
    if CHROMIUM_INSTALLED:
        assert (tmp_path / "demo" / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
