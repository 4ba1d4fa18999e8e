"""The pages a customer sees on stripe.com: hosted Checkout, and the billing portal.

Plain HTML stand-ins. The Checkout page lists what is being bought, pays with a test card and
sends the customer on to success_url (with {CHECKOUT_SESSION_ID} filled in); the portal lists
the customer's subscriptions, lets them cancel a plan at the end of its period or save a
card, and links back to return_url.
"""

from __future__ import annotations

import html

from aiohttp import web

from sandbox.stripe.objects import from_unix_time
from sandbox.stripe.simulations import SimulationsMixin


class PagesMixin(SimulationsMixin):
    """Hosted Checkout and billing portal pages, which act through the simulations."""

    # -----------------------------------------------------------------------------------
    # Pages a customer would see on stripe.com

    async def _checkout_page(self, request: web.Request) -> web.Response:
        session = self.checkout_sessions.get(request.match_info["session_id"])
        if session is None:
            return _page("Not found", "<p>There is no such checkout session.</p>", status=404)
        if session["status"] != "open":
            return _page(
                "Checkout", f"<p>This checkout session is {session['status']}.</p>", status=410
            )
        rows = "".join(
            f"<li>{html.escape(self._describe_price(item['price']))}"
            f" &times; {item['quantity']}</li>"
            for item in self._checkout_line_items[session["id"]]
        )
        cancel = session["cancel_url"]
        cancel_link = f' <a href="{html.escape(cancel)}">Cancel</a>' if cancel else ""
        code_field = (
            '<label>Promotion code <input name="promotion_code"></label> '
            if session.get("allow_promotion_codes")
            else ""
        )
        body = (
            f"<ul>{rows}</ul>"
            f'<form method="post">{code_field}<button type="submit">Pay (test card)</button>'
            f"{cancel_link}</form>"
        )
        return _page("Checkout (Stripe sandbox)", body)

    async def _checkout_page_pay(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]
        form = await request.post()
        typed = str(form.get("promotion_code") or "").strip() or None
        try:
            await self.complete_checkout(session_id, promotion_code=typed)
        except (KeyError, ValueError) as error:
            # A code that doesn't work keeps the page open to try again; a closed session is gone.
            status = 400 if typed and session_id in self.checkout_sessions else 410
            if status == 400 and self.checkout_sessions[session_id]["status"] != "open":
                status = 410
            return _page("Checkout", f"<p>{html.escape(str(error))}</p>", status=status)
        success_url = self.checkout_sessions[session_id]["success_url"]
        if not success_url:
            return _page("Checkout", "<p>Paid. You can close this page.</p>")
        raise web.HTTPFound(success_url.replace("{CHECKOUT_SESSION_ID}", session_id))

    async def _portal_page(self, request: web.Request) -> web.Response:
        portal = self.portal_sessions.get(request.match_info["portal_id"])
        if portal is None:
            return _page("Not found", "<p>There is no such portal session.</p>", status=404)
        rows = []
        for subscription in self.subscriptions.values():
            if subscription["customer"] != portal["customer"]:
                continue
            period_end = from_unix_time(self._period(subscription)[1]).date().isoformat()
            state = subscription["status"]
            action = ""
            if subscription["cancel_at_period_end"]:
                state += f", ends {period_end}"
            elif state != "canceled":
                state += f", renews {period_end}"
                action = (
                    f'<form method="post" action="/portal/{portal["id"]}/cancel/'
                    f'{subscription["id"]}"><button type="submit">Cancel plan</button></form>'
                )
            price = subscription["items"]["data"][0]["price"]["id"]
            rows.append(f"<li>{html.escape(self._describe_price(price))}: {state}{action}</li>")
        back = portal["return_url"]
        back_link = f'<p><a href="{html.escape(back)}">Back</a></p>' if back else ""
        customer = self.customers[portal["customer"]]
        card = (customer.get("invoice_settings") or {}).get("default_payment_method")
        card_form = (
            "<p>Card saved.</p>"
            if card
            else f'<form method="post" action="/portal/{portal["id"]}/card">'
            '<button type="submit">Save a card (test card)</button></form>'
        )
        return _page("Billing (Stripe sandbox)", f"<ul>{''.join(rows)}</ul>{card_form}{back_link}")

    async def _portal_save_card(self, request: web.Request) -> web.Response:
        portal_id = request.match_info["portal_id"]
        portal = self.portal_sessions.get(portal_id)
        if portal is None:
            return _page("Not found", "<p>There is no such portal session.</p>", status=404)
        await self.add_payment_method(portal["customer"])
        raise web.HTTPFound(f"/portal/{portal_id}")

    async def _portal_cancel(self, request: web.Request) -> web.Response:
        portal_id = request.match_info["portal_id"]
        portal = self.portal_sessions.get(portal_id)
        subscription = self.subscriptions.get(request.match_info["subscription_id"])
        if (
            portal is None
            or subscription is None
            or subscription["customer"] != portal["customer"]
        ):
            return _page("Not found", "<p>There is no such subscription.</p>", status=404)
        await self.cancel_at_period_end(subscription["id"])
        raise web.HTTPFound(f"/portal/{portal_id}")

    def _describe_price(self, price_id: str) -> str:
        price = self.prices[price_id]
        product = self.products.get(price["product"], {"name": price["product"]})
        amount = f"{price['unit_amount'] / 100:.2f} {price['currency'].upper()}"
        recurring = price["recurring"]
        every = f" / {recurring['interval']}" if recurring else ""
        return f"{product['name']}: {amount}{every}"


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html")
