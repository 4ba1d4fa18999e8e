"""The `between` command: one-line errors, groups, the Stripe set-up, run as a person would.

Most commands run in this process, with the environment and working directory they would have
(a process proves nothing more for them); the first test runs the real `between` script.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from pathlib import Path
from unittest import mock

from app.cli import main
from sandbox.stripe import StripeSandbox

BETWEEN = [sys.executable, "-c", "from app.cli import main; main()"]


async def between(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """`between ARGS` with exactly `env` and `cwd`: (exit status, stdout, stderr)."""
    return await asyncio.to_thread(_between_here, list(args), env, cwd)


def _between_here(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    # The command runs asyncio.run itself, so it gets a thread of its own.
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.dict(os.environ, env, clear=True),
        mock.patch.object(sys, "argv", ["between", *args]),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, out.getvalue(), err.getvalue()


async def between_process(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """The same as a separate process, the way a coach runs it."""
    process = await asyncio.create_subprocess_exec(
        *BETWEEN,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def bare_environment(tmp_path: Path) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "PYTHONPATH"}
    env = {name: value for name, value in os.environ.items() if name in keep}
    env["PYTHONPATH"] = str(Path(__file__).parents[2])
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/between.db"
    return env


async def test_a_missing_bot_token_is_one_line_naming_it(tmp_path: Path) -> None:
    code, out, err = await between_process("run", env=bare_environment(tmp_path), cwd=tmp_path)
    assert code == 2
    assert err.strip().splitlines() == [
        "error: TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and paste its token"
    ]


async def test_a_malformed_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    env = bare_environment(tmp_path) | {"DATABASE_URL": "mysql://nope"}
    code, _, err = await between("group", "list", env=env, cwd=tmp_path)
    assert code == 2
    assert err.strip() == (
        "error: DATABASE_URL: must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
    )


async def test_groups_are_added_changed_and_listed(tmp_path: Path) -> None:
    env = bare_environment(tmp_path)
    code, out, _ = await between(
        "group",
        "add",
        "--chat-id",
        "-100123",
        "--title",
        "Tuesday circle",
        "--capacity",
        "8",
        "--timezone",
        "Europe/London",
        env=env,
        cwd=tmp_path,
    )
    assert code == 0 and "Tuesday circle (-100123): 8 seats, Europe/London" in out
    code, _, err = await between(
        "group", "set", "--chat-id", "-100123", "--timezone", "Mars/Base", env=env, cwd=tmp_path
    )
    assert code == 2 and "unknown time zone 'Mars/Base'" in err
    code, out, _ = await between(
        "group",
        "set",
        "--chat-id",
        "-100123",
        "--prompt-time",
        "08:30",
        "--reply-days",
        "weekdays",
        "--reply-by",
        "19:00",
        env=env,
        cwd=tmp_path,
    )
    assert code == 0 and "prompt at 08:30" in out and "replies mon,tue,wed,thu,fri by 19:00" in out
    code, _, err = await between(
        "group", "set", "--chat-id", "-100123", "--prompt-time", "9am", env=env, cwd=tmp_path
    )
    assert code == 2 and err.strip() == "error: prompt time '9am' should look like 09:00"
    code, out, _ = await between(
        "group", "set", "--chat-id", "-100123", "--trial-days", "7", "--promotion-codes", "on",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert code == 0 and "trial 7 days, promotion codes on" in out
    code, _, err = await between(
        "group", "set", "--chat-id", "-100123", "--trial-days", "-1", env=env, cwd=tmp_path
    )
    assert code == 2 and err.strip() == "error: trial days should be between 0 (no trial) and 730"
    code, _, err = await between(
        "group", "set", "--chat-id", "-100123", "--promotion-codes", "maybe", env=env, cwd=tmp_path
    )
    assert code == 2 and "say on or off" in err and "Traceback" not in err
    code, out, _ = await between(
        "group", "set", "--chat-id", "-100123", "--trial-days", "0", env=env, cwd=tmp_path
    )
    assert code == 0 and "trial none, promotion codes on" in out
    code, out, _ = await between("group", "list", env=env, cwd=tmp_path)
    assert code == 0 and "Tuesday circle" in out and "Europe/London" in out


async def test_stripe_setup_creates_the_price_once_and_prints_what_to_configure(
    tmp_path: Path, stripe_sandbox: StripeSandbox
) -> None:
    env = bare_environment(tmp_path) | {
        "STRIPE_SECRET_KEY": stripe_sandbox.api_key,
        "STRIPE_API_BASE": stripe_sandbox.base_url,
        "PUBLIC_URL": "https://between.example.org",
        "TELEGRAM_WEBHOOK_SECRET": "a-long-enough-secret-123",
    }
    code, first, err = await between("stripe", "setup", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "Created the $31 a month price: price_" in first
    assert "https://between.example.org/stripe/webhook" in first
    code, again, _ = await between("stripe", "setup", env=env, cwd=tmp_path)
    assert "Found the $31 a month price" in again
    assert len(stripe_sandbox.prices) == 1


def broken_library(tmp_path: Path) -> Path:
    """A copy of the shipped library with a typo'd field and a duplicated id."""
    import shutil

    from prompts.loader import LIBRARY_DIR

    copy = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, copy)
    prompts = copy / "prompts.yaml"
    text = prompts.read_text()
    text = text.replace("    text:", "    txt:", 1)
    prompts.write_text(
        text + "\n  - id: where-it-sits\n    text: A second prompt with a used id.\n"
    )
    return copy


async def test_prompts_check_names_each_problem_with_file_and_line(tmp_path: Path) -> None:
    env = bare_environment(tmp_path) | {"PROMPT_LIBRARY_DIR": str(broken_library(tmp_path))}
    code, _, err = await between("prompts", "check", env=env, cwd=tmp_path)
    assert code == 1
    problems = err.strip().splitlines()
    assert any("prompts.yaml:" in line and "txt" in line for line in problems)
    assert any("prompts.yaml:" in line and "where-it-sits" in line for line in problems)
    code, out, _ = await between("prompts", "check", env=bare_environment(tmp_path), cwd=tmp_path)
    assert code == 0 and "The prompt library is fine: 70 prompts" in out


async def test_the_app_refuses_to_start_on_a_broken_library(tmp_path: Path) -> None:
    env = bare_environment(tmp_path) | {
        "PROMPT_LIBRARY_DIR": str(broken_library(tmp_path)),
        "TELEGRAM_BOT_TOKEN": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef",
        "COACH_TELEGRAM_IDS": "1",
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
    }
    code, _, err = await between("run", env=env, cwd=tmp_path)
    assert code == 2
    assert err.startswith("error: the prompt library has problems:")
    assert "where-it-sits" in err


async def test_backup_and_purge_from_the_command_line(tmp_path: Path) -> None:
    import sqlite3

    env = bare_environment(tmp_path)
    await between(
        "group", "add", "--chat-id", "-100777", "--title", "Backed up", env=env, cwd=tmp_path
    )
    code, out, err = await between("backup", str(tmp_path / "copy.db"), env=env, cwd=tmp_path)
    assert code == 0, err
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("select title from groups").fetchall() == [("Backed up",)]
    code, out, _ = await between("data", "purge", "--dry-run", env=env, cwd=tmp_path)
    assert code == 0 and "Older than 180 days, would go: the words of 0 check-ins" in out
    missing = bare_environment(tmp_path) | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/none/x.db"
    }
    code, _, err = await between("backup", str(tmp_path / "x.bak"), env=missing, cwd=tmp_path)
    assert code == 2 and err.startswith("error: there is no SQLite database at")
