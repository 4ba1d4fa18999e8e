"""The coach's dashboard: the long view on one page, as a Telegram Mini App or in a browser.

An edge beside bot/: aiohttp routes (routes), who may come in (auth), what the page shows
(queries, read from the database in a bounded number of statements; figures, the pure rules
behind them; charts, SVG drawn on the server), and its own templates and static files.
"""
