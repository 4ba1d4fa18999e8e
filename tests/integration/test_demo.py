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
        "The alert comes back",
        "Members write, whenever it happens",
        "/sos at night",
        "The coach's ten minutes",
        "A quiet member",
        "The live Q&A is scheduled",
        "A week of practice",
        "Weekly summaries",
        "A card fails",
        "Three days later",
        "Other ways in: Stars and a code",
        "Your data, your call",
        "The coach's dashboard",
        "A long evening of writing",
        "A free week",
        "Three days before the free week ends",
    ]
    assert "I'm set up in Between · November circle" in printed
    assert "• Ban users" in printed
    assert "I have every right I need" in printed
    assert "Hello, Sam <3." in printed  # an HTML-ish name shown as typed
    assert "12 seats left" in printed
    # Noa pays in Telegram Stars and Ari comes in with the coach's code: both are let in.
    other_ways = printed[printed.index("Other ways in") : printed.index("Your data, your call")]
    assert "Pay ⭐ 2400 Stars a month" in other_ways
    assert other_ways.count("Your personal invite") == 2 and "free seat · used" in other_ways
    assert "What you can do here" in printed
    assert "(customer.created) → 200" in printed
    assert "forged Stripe event → 400" in printed
    assert "stored once, ignored" in printed
    assert "wrong secret → 401" in printed
    assert (
        '/healthz → 200 {"status": "ok", "database": "ok", "redis": "ok", "worker": "ok"}'
        in printed
    )
    # Maya, Sam, Jon, later Leah, and Noa who pays in Stars
    assert printed.count("We're really glad you're here") == 6
    assert "you are number 1" in printed
    assert "I couldn't let you in through that link" in printed
    assert "(Kim is no longer in the group)" in printed
    assert "your last payment for Between didn't go through" in printed
    assert "a seat opened in Between · November circle" in printed
    assert "(Jon is no longer in the group)" in printed
    assert "Seats: 3 · taken 3 · held 0 · free 0 · waitlist 0" in printed
    # The London group is charged in pounds, and /seats says how each seat pays.
    assert "about £1 a day: £31 a month" in printed and "Maya pays £31 (session" in printed
    # (Only the coach's own /start, before there is a group, names the default price.)
    assert "$31" not in printed[printed.index("People find the bot") :]
    assert "• Maya: Stripe, £31" in printed and "• Noa: Stars, ⭐ 2400" in printed
    assert "• Ari: code, nothing" in printed and "Brings in £" in printed
    assert "Inner kid week · Tuesday" in printed  # the daily prompt, a themed week
    assert "Sam <3: (voice)" in printed
    assert "You named it: afraid." in printed
    assert "#win I said no to the extra shift" in printed
    assert 'matched "everyone would be better off without me"' in printed  # the coach's alert
    assert "so this comes to you right away" in printed  # Sam's crisis lines, in private
    # The net's two levels, the alert that came back and was answered, and /sos.
    back = printed[printed.index("The alert comes back") : printed.index("Members write")]
    assert "Still urgent, 9 hours on: nobody has reached out yet" in back
    assert "✅ Rivka reached out, Wednesday 18 November, 07:04" in back
    assert "Maya, your message sounds heavy" in printed
    sos = printed[printed.index("/sos at night") : printed.index("The coach's ten minutes")]
    assert "One minute, right where you are" in sos
    assert 'Sam &lt;3 pressed "Tell my coach now" in /sos' in sos or (
        'Sam <3 pressed "Tell my coach now" in /sos' in sos
    )
    assert "I read what you wrote" not in printed  # no automatic message claims a reader
    writing = printed[printed.index("Members write") : printed.index("The coach's ten minutes")]
    assert writing.count("Got it, ") == 2  # Maya and Sam; Jon wrote in the group
    assert "Rivka answers once a day, Sunday to Thursday" in printed
    assert printed.index("🚨 Urgent") < printed.index("⏳ Waiting for you")
    assert "Sent to Sam <3 ✓" in printed and "Sent to Maya ✓" in printed
    # Who is speaking: the coach's profile at /start, her name on what she sends.
    assert "Your coach: Rivka\nTherapist and coach for twelve years." in printed
    assert "Rivka, your coach" in printed  # the photo's caption at /start
    assert "Between (bot): Rivka · voice note" in printed  # to Sam, and in the group
    # The promise: the reminder before 20:00, the honest note after it, the figures.
    assert "1 person is still waiting for your reply" in printed
    assert "2 people are still waiting for your reply" in printed
    assert "Rivka hasn't answered you yet and is running late" in printed
    assert "Your reply promise: 0 of 2 answered on time this week" in printed
    # The group in the round, and a win kept from it.
    ten_minutes = printed[printed.index("The coach's ten minutes") : printed.index("A quiet")]
    assert "In the group this past week" in ten_minutes
    assert "• Sam <3: asked for you through /sos" in ten_minutes
    assert '• Maya: "Nothing ever gets better"' in ten_minutes
    assert "• Sam <3: 1 voice note since the safety net fired on their words" in ten_minutes
    assert "3. Jon: “Told my brother I can't host this year. He was fine?!”" in ten_minutes
    assert "Kept as a win for Jon's weekly summary" in ten_minutes
    assert "Posted in the group for Maya ✓" in ten_minutes
    assert "Rivka (coach): Jon, that's a boundary said kindly" in ten_minutes
    # Arrivals: a quiet note to the coach; a welcome in the group; the agreement pinned.
    assert "🌱 Maya joined Between · November circle (1 of 3 seats taken)." in printed
    assert "🕰 Leah is on the waitlist for Between · November circle, number 1." in printed
    assert "🌱 Welcome, Maya." in printed and "Our group agreement" in printed
    assert "👋 Jon is out of Between · November circle: the payment still didn't" in printed
    assert "⚠️ Draft for Sam <3 · a hard week" in printed
    assert "💬 Rivka: Sam, I'm glad you're still here with us." in printed
    assert "just checking in" in printed
    assert "📅 Live Q&A: Wednesday 25 November, 18:00 (Europe/London)" in printed
    assert "Live Q&A tomorrow" in printed and "Live Q&A in one hour" in printed
    assert "Your host link for today's live Q&A" in printed  # the coach's, in private
    assert " Start the meeting as host " in printed
    assert "ends Jon's subscription itself; that webhook never arrives" in printed
    assert "'removed_unpaid': 1" in printed  # the sweep went on all the same
    assert "1. Maya: How do I stop replaying conversations at night?" in printed
    assert "Draft for Maya" in printed and "This was a quiet week" in printed  # Jon's
    assert "Our week together" in printed
    assert "📎 between-my-data.json" in printed and "📎 between-my-data.html" in printed
    assert "📎 between-live-qa.ics" in printed
    assert "Jon used /forget" in printed
    assert "Hello, Sam &lt;3." in page.read_text()
    evening = printed[printed.index("A long evening of writing") :]
    assert "Maya: recent thread" in evening
    assert "it came in 2 messages of at most 4,096" in evening  # one long thread, split
    trial = printed[printed.index("A free week") :]
    assert "Your free week ends on Monday 28 December" in trial
    assert "Dev, your free days in Between · November circle end on Monday 28 December" in trial
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
