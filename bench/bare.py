"""The yardstick for update handling: aiogram behind aiohttp with one empty message handler.

    python -m bench.bare --port 8081 --secret S

It answers Telegram's webhook exactly as Between's web process does (same request handler,
same secret check, handled before answering) but keeps nothing, so the difference between the
two is what Between itself costs per update.
"""

from __future__ import annotations

import argparse

from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from sandbox.telegram import SANDBOX_BOT_TOKEN


async def ignore(message: Message) -> None:
    """The empty handler."""


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(secret: str) -> web.Application:
    router = Router()
    router.message.register(ignore)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(
        dispatcher, Bot(SANDBOX_BOT_TOKEN), handle_in_background=False, secret_token=secret
    ).register(app, path="/telegram/webhook")
    app.router.add_get("/healthz", healthy)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    web.run_app(
        create_app(args.secret), host="127.0.0.1", port=args.port, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
