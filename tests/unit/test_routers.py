"""How the routers are built: every filter runs on the event loop."""

from __future__ import annotations

from aiogram.dispatcher.event.handler import FilterObject
from aiogram.filters import Command, CommandStart

from bot.commands import COACH_COMMANDS, MEMBER_COMMANDS
from bot.dispatcher import create_routers


def _filters() -> list[tuple[str, str, FilterObject]]:
    found = []
    for router in create_routers():
        for update_type, observer in router.observers.items():
            own = observer._handler.filters or []  # the router-level .filter(...)
            handled = [f for handler in observer.handlers for f in handler.filters or []]
            found += [(router.name, update_type, f) for f in [*own, *handled]]
    return found


def test_no_filter_costs_a_thread_hop_per_update() -> None:
    # aiogram runs a filter that is not a coroutine in a worker thread, for every update
    # that reaches it: a plain F filter there cost a third of a check-in's time.
    filters = _filters()
    assert len(filters) > 40
    in_threads = [
        f"{router}.{kind}: {f.callback!r}" for router, kind, f in filters if not f.awaitable
    ]
    assert in_threads == []


def test_every_command_in_the_menus_is_one_a_router_answers() -> None:
    answered: set[str] = set()
    for _, _, found in _filters():
        if isinstance(found.callback, CommandStart):
            answered.add("start")
        elif isinstance(found.callback, Command):
            answered.update(str(command) for command in found.callback.commands)
    menu = {name for name, _ in MEMBER_COMMANDS + COACH_COMMANDS}
    assert menu <= answered, menu - answered
    assert len(MEMBER_COMMANDS + COACH_COMMANDS) <= 100  # setMyCommands takes 100 at most
