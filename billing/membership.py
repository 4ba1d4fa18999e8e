"""The membership lifecycle, /join to removal: Stripe decides money; the database decides seats.

`Membership` is built once with its ports (payments, links to the bot, the templates, the
rules); the bot's handlers, the Stripe events and the worker's sweeps call it.
Everything a member is told goes through the outbox (`billing.notices`), and so does what is
done at the group's door (removals, revoked links: `core.outbox.DoorAction`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import update
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from billing import gifts, notices, seats
from billing.lifecycle import (
    Notice,
    SeatView,
    SubscriptionState,
    follow_subscription,
    grace_is_over,
    hold_until,
)
from billing.ports import DoorRefused, Payments, StarsPayments
from core.db import after_commit
from core.links import BotLinks
from core.localtime import format_local
from core.models import (
    SEATED,
    AccessCode,
    CodeKind,
    Group,
    Member,
    Seat,
    SeatStatus,
    StarsSubscription,
)
from core.outbox import Removal, Revocation, enqueue, enqueue_door
from core.pricing import Price
from core.settings import ConfigError, Settings
from prompts.render import Templates

log = logging.getLogger(__name__)

# The changes a coach hears about quietly, as they happen (besides arrivals and removals).
_COACH_HEARS = {Notice.CANCEL_SCHEDULED: "cancelled", Notice.GOODBYE: "ended"}
# Stripe lets a Checkout Session live from 30 minutes to 24 hours, measured from its creation
# on Stripe's clock, which is seconds (once measured: 86 s) off ours and later than our `now`:
# five minutes of margin at both ends.
CHECKOUT_MIN = timedelta(minutes=35)
CHECKOUT_MAX = timedelta(hours=23, minutes=55)
# Stripe: a trial ends 48 hours or more after the Checkout Session is made.
GIFT_SUBSCRIBE_LEAD = timedelta(hours=49)


@dataclass(frozen=True)
class MembershipRules:
    """The membership rules a coach may tune (see the settings)."""

    price_id: str | None
    checkout_minutes: int
    offer_for: timedelta
    grace: timedelta
    # Telegram Stars a month, offered beside Checkout; 0: Stars are off.
    stars_per_month: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> MembershipRules:
        return cls(
            price_id=settings.stripe_price_id,
            checkout_minutes=settings.checkout_hold_minutes,
            offer_for=timedelta(hours=settings.waitlist_offer_hours),
            grace=timedelta(days=settings.payment_grace_days),
            stars_per_month=settings.stars_per_month,
        )


@dataclass(frozen=True)
class JoinOutcome:
    """What /join did, for the handler to render."""

    kind: Literal["no_group", "member", "checkout", "waitlisted"]
    group: Group | None = None
    url: str | None = None
    seats_left: int = 0
    position: int = 0
    hold_until: datetime | None = None
    # The Telegram Stars invoice for the same seat, when Stars are on.
    stars_url: str | None = None
    # The free trial this Checkout starts with (days), if any.
    trial_days: int | None = None


@dataclass(frozen=True)
class CompOutcome:
    """What /comp did: a new free seat, or the member had one already."""

    already: bool
    full: bool = False


class Membership:
    """Seats from /join to removal, through the ports it was given."""

    def __init__(
        self,
        *,
        payments: Payments,
        links: BotLinks,
        templates: Templates,
        rules: MembershipRules,
        coach_ids: tuple[int, ...] = (),
        stars: StarsPayments | None = None,
    ) -> None:
        self.payments = payments
        self.stars = stars
        self.links = links
        self.templates = templates
        self.rules = rules
        # Who gets the quiet notes of arrivals and departures.
        self.coach_ids = coach_ids

    # --- the price -------------------------------------------------------------------------

    def price_id(self, group: Group | None) -> str:
        """The Stripe price a seat in `group` is sold at: its own, else STRIPE_PRICE_ID."""
        if group is not None and group.stripe_price_id:
            return group.stripe_price_id
        if self.rules.price_id is None:
            raise ConfigError("STRIPE_PRICE_ID is not set: run `between stripe setup`")
        return self.rules.price_id

    async def price_group(
        self, session: AsyncSession, member: Member, now: datetime
    ) -> Group | None:
        """The group whose price a member is told before choosing one: theirs, else the one
        /join would give them."""
        assert member.id is not None
        live = await seats.seats_of(session, member.id)
        if live:
            return await _group(session, live[0].group_id)
        entry = await seats.open_entry(session, member_id=member.id)
        if entry is not None:
            return await _group(session, entry.group_id)
        return (await seats.group_with_room(session, now))[0]

    async def price_for(self, session: AsyncSession, member: Member, now: datetime) -> Price:
        """The price of the member's group (see price_group), in the member's language."""
        group = await self.price_group(session, member, now)
        return self.templates.price_for(group, member.language_code)

    # --- the join funnel ---------------------------------------------------------------------

    async def join(self, session: AsyncSession, member: Member, now: datetime) -> JoinOutcome:
        """Hold a seat and open Checkout, or take a waitlist place when every group is full."""
        assert member.id is not None
        for seat in await seats.seats_of(session, member.id):
            group = await _group(session, seat.group_id)
            if await _gift_to_subscribe(session, seat, now):
                # Subscribing from a gift seat: the first charge waits for the gift's end.
                return await self._checkout(
                    session, seat, member, group, now, trial_end=seat.current_period_end
                )
            if seat.status in SEATED:
                return JoinOutcome("member", group)
            if seat.hold_expires_at is not None and seat.hold_expires_at > now:
                return await self._checkout(session, seat, member, group, now)
        entry = await seats.open_entry(session, member_id=member.id)
        if entry is not None:
            position = await seats.position(session, entry)
            group = await _group(session, entry.group_id)
            return JoinOutcome("waitlisted", group, position=position)
        chosen, has_room = await seats.group_with_room(session, now)
        if chosen is None:
            return JoinOutcome("no_group")
        if has_room:
            until = now + timedelta(minutes=self.rules.checkout_minutes)
            held = await seats.hold_seat(
                session, member=member, group=chosen, now=now, until=until
            )
            if held is not None:
                # The hold is kept before Stripe is asked, so the group's seats are not locked
                # while it answers; a Checkout that then fails is made by the next /join,
                # which finds the hold.
                await session.commit()
                return await self._checkout(session, held, member, chosen, now)
        entry, position = await seats.join_waitlist(session, member=member, group=chosen, now=now)
        await self.tell_coaches(
            session, "waitlist", str(entry.id), member, chosen, now, position=position
        )
        return JoinOutcome("waitlisted", chosen, position=position)

    async def _checkout(
        self,
        session: AsyncSession,
        seat: Seat,
        member: Member,
        group: Group,
        now: datetime,
        *,
        month_off: bool = False,
        trial_end: datetime | None = None,
    ) -> JoinOutcome:
        if month_off and seat.checkout_session_id is not None:
            # The open Checkout charges the full first month: a fresh one takes it off.
            seat.checkout_session_id = seat.checkout_url = None
        # One offer at a time: an access code's month off, else the group's trial for someone
        # who never had one, else the field for the coach's promotion codes.
        discounted = month_off or trial_end is not None
        trial_days = (
            group.trial_days
            if group.trial_days and not discounted and await trial_allowed(session, member)
            else None
        )
        if seat.checkout_url is None:
            price_id = self.price_id(group)
            assert seat.id is not None and member.id is not None and group.id is not None
            wanted = hold_until(
                now,
                checkout_minutes=self.rules.checkout_minutes,
                offered_until=seat.hold_expires_at,
            )
            # A hold (or what is left of an offer) shorter than Stripe allows is lengthened
            # to match the Checkout Session, below.
            expires = min(max(wanted, now + CHECKOUT_MIN), now + CHECKOUT_MAX)
            checkout = await self.payments.create_checkout(
                price_id=price_id,
                seat_id=seat.id,
                member_id=member.id,
                group_id=group.id,
                telegram_id=member.telegram_id,
                success_url=await self.links.to_bot("paid"),
                cancel_url=await self.links.to_bot("join"),
                expires_at=expires,
                coupon=await self.payments.first_month_coupon() if month_off else None,
                trial_end=trial_end,
                trial_days=trial_days,
                promotion_codes=group.promotion_codes and not discounted and not trial_days,
            )
            seat.checkout_session_id = checkout.id
            seat.checkout_url = checkout.url
            seat.hold_expires_at = max(
                seat.hold_expires_at or checkout.expires_at, checkout.expires_at
            )
            seat.updated_at = now
            session.add(seat)
            await session.flush()
        count = await seats.count_seats(session, group, now)
        stars_url = None
        if (
            self.stars is not None
            and self.rules.stars_per_month
            and not month_off
            and not trial_end
        ):
            stars_url = await self.stars.invoice_link(
                title=f"{group.title}: a month"[:32],
                description=(
                    f"Your seat in {group.title} for 30 days. Renews every 30 days; "
                    "cancel any time in Telegram."
                ),
                payload=f"seat:{seat.id}:{member.telegram_id}",
                stars=self.rules.stars_per_month,
            )
        return JoinOutcome(
            "checkout",
            group,
            url=seat.checkout_url,
            seats_left=count.free,
            hold_until=seat.hold_expires_at,
            stars_url=stars_url,
            trial_days=trial_days,
        )

    async def portal_url(self, session: AsyncSession, member: Member) -> str | None:
        """A one-off link to Stripe's customer portal; None for a member who pays nothing."""
        assert member.id is not None
        paying = [s for s in await seats.seats_of(session, member.id) if s.stripe_customer_id]
        if not paying or paying[0].stripe_customer_id is None:
            return None
        return await self.payments.portal_url(
            paying[0].stripe_customer_id, await self.links.to_bot("billing")
        )

    # --- Stripe's events ---------------------------------------------------------------------

    async def ask_stripe_about(self, event: dict[str, Any]) -> SubscriptionState | None:
        """The current state of the subscription an event is about (None: it names none),
        asked before the transaction that applies the event opens."""
        found = (event.get("data") or {}).get("object") or {}
        if event.get("type") == "checkout.session.completed":
            subscription_id = found.get("subscription") if found.get("mode") != "payment" else None
        elif event.get("type") == "checkout.session.expired":
            subscription_id = None
        else:
            subscription_id = _subscription_id(found)
        if not subscription_id:
            return None
        state = await self.payments.subscription(subscription_id)
        if event.get("type") == "customer.subscription.trial_will_end":
            card = await self.payments.card_saved(subscription_id)
            state = dataclasses.replace(state, card_saved=card)
        return state

    async def checkout_completed(
        self,
        session: AsyncSession,
        event: dict[str, Any],
        now: datetime,
        *,
        subscription: SubscriptionState | None = None,
    ) -> None:
        """Payment went through: the seat becomes active and the member gets their invite."""
        checkout = event["data"]["object"]
        if checkout.get("mode") == "payment":
            if not await gifts.gift_paid(session, self.templates, self.links, checkout, now):
                log.warning("payment checkout %s is no gift we know", checkout.get("id"))
            return
        seat = await _seat_from_metadata(session, checkout.get("metadata") or {})
        if seat is None or not checkout.get("subscription"):
            log.warning("checkout %s names no seat we know", checkout.get("id"))
            return
        seat.stripe_customer_id = checkout.get("customer")
        seat.stripe_subscription_id = checkout["subscription"]
        lapsed = seat.status == SeatStatus.ENDED and seat.end_reason in seats.LAPSED
        if lapsed and not await self._reopen_lapsed(session, seat, now):
            return
        if subscription is None or subscription.id != checkout["subscription"]:
            subscription = await self.payments.subscription(checkout["subscription"])
        await self.follow(session, seat, subscription, now)
        if checkout.get("discounts"):
            await _month_off_code_used(session, seat, now)

    async def _reopen_lapsed(self, session: AsyncSession, seat: Seat, now: datetime) -> bool:
        """Paid in the last second of the hold: the payment wins over the clock, unless the
        place has gone to someone else meanwhile. A full group stays at its size and the coach
        decides (the nightly reconcile lets them in once there is room)."""
        group = await session.get(Group, seat.group_id)
        member = await session.get(Member, seat.member_id)
        assert group is not None and member is not None
        count = await seats.count_seats(session, group, now)
        if count.free > 0:
            log.warning("seat %s paid just after its hold ended; reopening it", seat.id)
            seat.status = SeatStatus.HELD
            return True
        log.warning("seat %s paid just after its hold ended, and the group is full", seat.id)
        session.add(seat)
        await enqueue(
            session,
            key=f"seat:{seat.id}:paid_when_full",
            chat_id=member.telegram_id,
            text=self.templates.render(
                "paid_when_full", first_name=member.first_name, title=group.title
            ),
            now=now,
        )
        await self.tell_coaches(
            session, "paid_when_full", str(seat.id), member, group, now, count=count
        )
        return False

    async def checkout_expired(
        self,
        session: AsyncSession,
        event: dict[str, Any],
        now: datetime,
        *,
        subscription: SubscriptionState | None = None,  # an expired Checkout made none
    ) -> None:
        """Checkout closed unpaid: the held seat goes back (to the waitlist, if anyone waits)."""
        checkout = event["data"]["object"]
        seat = (
            await session.exec(
                select(Seat)
                .where(col(Seat.checkout_session_id) == checkout["id"])
                .with_for_update()
            )
        ).first()
        if seat is None or seat.status != SeatStatus.HELD:
            return
        offer = await seats.open_entry(session, member_id=seat.member_id, group_id=seat.group_id)
        still_offered = seat.hold_expires_at is not None and seat.hold_expires_at > now
        if offer is not None and offer.seat_id == seat.id and still_offered:
            # A waitlist offer may outlive one Checkout Session: /join opens a new one.
            seat.checkout_session_id = seat.checkout_url = None
            session.add(seat)
            return
        await self._release_hold(session, seat, now)

    async def subscription_changed(
        self,
        session: AsyncSession,
        event: dict[str, Any],
        now: datetime,
        *,
        subscription: SubscriptionState | None = None,
    ) -> None:
        """Any subscription or invoice event: follow the subscription's *current* state.

        Asking Stripe for the state now, rather than trusting the event's snapshot, makes late,
        repeated and reordered events harmless.
        """
        found = event["data"]["object"]
        subscription_id = _subscription_id(found)
        if subscription_id is None:
            return
        seat = await seat_for_subscription(session, subscription_id, found.get("metadata") or {})
        if seat is None:
            log.info("subscription %s has no seat here; ignored", subscription_id)
            return
        seat.stripe_subscription_id = subscription_id
        if subscription is None or subscription.id != subscription_id:
            subscription = await self.payments.subscription(subscription_id)
        await self.follow(session, seat, subscription, now)

    async def follow(
        self,
        session: AsyncSession,
        seat: Seat,
        subscription: SubscriptionState,
        now: datetime,
    ) -> list[Notice]:
        """Apply a subscription's state to its seat, with what follows: invite, messages,
        removal."""
        view = SeatView(seat.status, seat.cancel_at_period_end, seat.past_due_since)
        change = follow_subscription(view, subscription, now)
        if (
            seat.status == SeatStatus.HELD
            and subscription.status == "trialing"
            and subscription.trial_end is not None
        ):
            # A newcomer's seat starting on the group's free trial (a gift's seat is comped).
            seat.trial_ends_at = subscription.trial_end
        seat.current_period_end = subscription.current_period_end or seat.current_period_end
        seat.stripe_customer_id = subscription.customer_id or seat.stripe_customer_id
        seat.cancel_at_period_end = change.cancel_at_period_end
        seat.past_due_since = change.past_due_since
        seat.stripe_status = subscription.status
        if subscription.price is not None:
            seat.billed_cents = subscription.price.per_month_cents
            seat.billed_currency = subscription.price.currency
        seat.updated_at = now
        member = await _member(session, seat.member_id)
        group = await _group(session, seat.group_id)
        if change.status == SeatStatus.ENDED and seat.status != SeatStatus.ENDED:
            await self._end_and_remove(session, seat, member, group, change.end_reason or "", now)
            await self.offer_seats(session, group, now)
        else:
            seat.status = change.status
            session.add(seat)
        for notice in change.notices:
            if notice == Notice.WELCOME:
                await seats.mark_seated(session, seat, now)
            await notices.queue_notice(
                session,
                self.templates,
                member=member,
                group=group,
                seat=seat,
                notice=notice,
                grace=self.rules.grace,
                now=now,
            )
            if notice in _COACH_HEARS:
                until = seat.current_period_end
                await self.tell_coaches(
                    session,
                    _COACH_HEARS[notice],
                    f"{seat.id}:{now.isoformat()}",
                    member,
                    group,
                    now,
                    until=format_local(until, group.timezone) if until else None,
                )
        await session.flush()
        return list(change.notices)

    async def trial_will_end(
        self,
        session: AsyncSession,
        event: dict[str, Any],
        now: datetime,
        *,
        subscription: SubscriptionState | None = None,
    ) -> None:
        """Stripe's notice, three days before a free trial ends: the member is reminded, once,
        with what happens next (a first payment if a card is saved, else a kind ending)."""
        found = event["data"]["object"]
        subscription_id = str(found["id"])
        seat = await seat_for_subscription(session, subscription_id, found.get("metadata") or {})
        if seat is None or seat.trial_ends_at is None or seat.status not in SEATED:
            return  # no trial of ours (a gift's "Stay on" has its own notices)
        # The state now (asked before the transaction), not the event's: a notice arriving
        # late, after the trial ended or after the member cancelled (told then), says nothing.
        if subscription is None or subscription.status != "trialing":
            return
        if subscription.cancel_at_period_end:
            return
        member = await _member(session, seat.member_id)
        group = await _group(session, seat.group_id)
        await notices.queue_trial_ending(
            session,
            self.templates,
            member=member,
            group=group,
            seat=seat,
            card=bool(subscription.card_saved),
            now=now,
        )

    async def tell_coaches(
        self,
        session: AsyncSession,
        event: str,
        key: str,
        member: Member,
        group: Group,
        now: datetime,
        **context: Any,
    ) -> None:
        """A quiet note to the coaches (arrivals, departures, payment trouble)."""
        await notices.queue_coach_note(
            session,
            self.templates,
            coach_ids=self.coach_ids,
            event=event,
            key=key,
            member=member,
            group=group,
            now=now,
            **context,
        )

    # --- the door of the group ---------------------------------------------------------------

    async def arrival(
        self, session: AsyncSession, member: Member, group: Group, now: datetime
    ) -> None:
        """Someone came into the group: a member with a seat (whose link is now used up) is
        welcome; anyone else is taken out and told why, unless they administer the group."""
        assert member.id is not None and group.id is not None
        seat = await seats.seated(session, member_id=member.id, group_id=group.id)
        if seat is None:
            log.info("removing member %s from group %s: no seat", member.id, group.id)
            why = self.templates.render("intruder_removed", first_name=member.first_name)
            await enqueue_door(
                session,
                Removal(member.telegram_id, unless_admin=True, tell=why),
                chat_id=group.chat_id,
                now=now,
            )
            return
        first_time = seat.joined_at is None
        seat.joined_at = seat.joined_at or now
        if seat.invite_link:  # nobody else may come in through it
            await enqueue_door(
                session, Revocation(seat.invite_link), chat_id=group.chat_id, now=now
            )
            seat.invite_link = None
        session.add(seat)
        if first_time:
            await notices.queue_group_welcome(
                session, self.templates, member=member, group=group, seat=seat, now=now
            )
            count = await seats.count_seats(session, group, now)
            await self.tell_coaches(
                session, "joined", str(seat.id), member, group, now, count=count
            )

    async def _stop_stars_renewal(self, session: AsyncSession, seat: Seat, member: Member) -> None:
        """A seat paid in Stars that we end: Telegram must not charge another period."""
        found = (
            await session.exec(
                select(StarsSubscription.charge_id).where(
                    col(StarsSubscription.seat_id) == seat.id
                )
            )
        ).first()
        if found is None or self.stars is None:
            return
        stars, user_id, seat_id = self.stars, member.telegram_id, seat.id

        async def stop() -> None:
            try:
                await stars.stop_renewal(user_id, found)
            except DoorRefused as refusal:
                log.warning("could not stop the Stars renewal of seat %s: %s", seat_id, refusal)

        if not after_commit(stop):  # after the handler's commit, else at once
            await stop()

    async def end_and_remove(
        self,
        session: AsyncSession,
        seat: Seat,
        member: Member,
        group: Group,
        reason: str,
        now: datetime,
    ) -> None:
        """End the seat and take the member out of the group (no message)."""
        await self._end_and_remove(session, seat, member, group, reason, now)

    async def _end_and_remove(
        self,
        session: AsyncSession,
        seat: Seat,
        member: Member,
        group: Group,
        reason: str,
        now: datetime,
    ) -> None:
        await seats.end_seat(session, seat, reason=reason, now=now)
        if seat.invite_link:
            await enqueue_door(
                session, Revocation(seat.invite_link), chat_id=group.chat_id, now=now
            )
        if seat.joined_at is not None or seat.invite_link:
            await enqueue_door(
                session, Removal(member.telegram_id), chat_id=group.chat_id, now=now
            )

    # --- seats the coach gives, takes and counts -----------------------------------------------

    async def comp(
        self, session: AsyncSession, member: Member, group: Group, now: datetime
    ) -> CompOutcome:
        """A free seat, no Stripe (a scholarship); the member gets it with their invite."""
        assert member.id is not None and group.id is not None
        if await seats.live_seat(session, member_id=member.id, group_id=group.id) is not None:
            return CompOutcome(already=True)
        seat = Seat(
            member_id=member.id,
            group_id=group.id,
            status=SeatStatus.COMPED,
            created_at=now,
            updated_at=now,
        )
        session.add(seat)
        await session.flush()
        await notices.queue_comped_welcome(
            session, self.templates, member=member, group=group, seat=seat, now=now
        )
        full = (await seats.count_seats(session, group, now)).free == 0
        return CompOutcome(already=False, full=full)

    async def remove_member(
        self, session: AsyncSession, member: Member, *, reason: str, now: datetime
    ) -> int:
        """End every seat the member has (not a mere hold); return how many."""
        assert member.id is not None
        live = [s for s in await seats.seats_of(session, member.id) if s.status != SeatStatus.HELD]
        for seat in live:
            await self.remove(session, seat, reason=reason, now=now)
        return len(live)

    async def remove(
        self,
        session: AsyncSession,
        seat: Seat,
        *,
        reason: str,
        now: datetime,
        cancelled: bool = False,
    ) -> None:
        """End a seat for good (unpaid after the grace period, or the coach's decision), its
        subscription cancelled in Stripe unless it is `cancelled` already: after the commit
        when a handler runs (the coach's /remove), else first."""
        if seat.stripe_subscription_id and not cancelled:
            cancel = functools.partial(self.payments.cancel, seat.stripe_subscription_id)
            if not after_commit(cancel):
                await cancel()
        member = await _member(session, seat.member_id)
        await self._stop_stars_renewal(session, seat, member)
        group = await _group(session, seat.group_id)
        await self._end_and_remove(session, seat, member, group, reason, now)
        # The coach's /remove frees the seat at once; the sweep offers it with the others.
        if reason != "unpaid":
            await self.offer_seats(session, group, now)
        if reason == "unpaid":
            await self.tell_coaches(session, "unpaid", str(seat.id), member, group, now)
        template = "removed_unpaid" if reason == "unpaid" else "removed_by_coach"
        await notices.queue_seat_ended(
            session,
            self.templates,
            member=member,
            group=group,
            seat=seat,
            template=template,
            now=now,
        )

    # --- the waitlist and the sweeps (worker) ------------------------------------------------

    async def offer_seats(self, session: AsyncSession, group: Group, now: datetime) -> int:
        """Offer every free seat to the next person waiting, each with a timed hold."""
        offers = await seats.offer_free_seats(session, group, now, offer_for=self.rules.offer_for)
        for entry, member, seat in offers:
            await notices.queue_offer(
                session,
                self.templates,
                entry=entry,
                member=member,
                group=group,
                seat=seat,
                now=now,
            )
        return len(offers)

    async def cancel_unpaid(self, session: AsyncSession, now: datetime) -> set[int]:
        """The seats past their grace period whose subscription is now cancelled in Stripe,
        asked with no transaction open (the read is ended first). One Stripe can't cancel now
        is tried again next minute; the others stand."""
        past_due = await session.exec(select(Seat).where(col(Seat.status) == SeatStatus.PAST_DUE))
        due = [
            (seat.id, seat.stripe_subscription_id)
            for seat in past_due.all()
            if seat.id is not None and grace_is_over(seat.past_due_since, self.rules.grace, now)
        ]
        await session.commit()
        cancelled: set[int] = set()
        for seat_id, subscription_id in due:
            if subscription_id is not None:
                try:
                    await self.payments.cancel(subscription_id)
                except Exception:
                    log.exception("could not cancel unpaid seat %s; trying again later", seat_id)
                    continue
            cancelled.add(seat_id)
        return cancelled

    async def sweep_seats(
        self, session: AsyncSession, now: datetime, *, unpaid: Collection[int] = ()
    ) -> dict[str, int]:
        """Every minute: end lapsed holds and offers, and the `unpaid` seats (past their grace
        period, cancelled in Stripe: `cancel_unpaid`) that are still past due."""
        released = 0
        for seat in await seats.expired_holds(session, now):
            await self._release_hold(session, seat, now)
            released += 1
        removed = 0
        past_due = await session.exec(
            select(Seat)
            .where(col(Seat.id).in_(unpaid))
            .where(col(Seat.status) == SeatStatus.PAST_DUE)
            .with_for_update()
        )
        for seat in past_due.all():
            await self.remove(session, seat, reason="unpaid", now=now, cancelled=True)
            removed += 1
        offered = 0
        for group in (await session.exec(select(Group))).all():
            offered += await self.offer_seats(session, group, now)
        return {"holds_released": released, "removed_unpaid": removed, "offers": offered}

    async def _release_hold(self, session: AsyncSession, seat: Seat, now: datetime) -> None:
        offered = await seats.open_entry(session, member_id=seat.member_id, group_id=seat.group_id)
        await seats.end_seat(session, seat, reason="hold_expired", now=now)
        member = await _member(session, seat.member_id)
        group = await _group(session, seat.group_id)
        lapsed = offered is not None and offered.seat_id == seat.id
        await notices.queue_seat_ended(
            session,
            self.templates,
            member=member,
            group=group,
            seat=seat,
            template="offer_lapsed" if lapsed else "hold_expired",
            now=now,
        )
        await self.offer_seats(session, group, now)


# --- lookups ---------------------------------------------------------------------------------


def _subscription_id(found: dict[str, Any]) -> str | None:
    if found.get("object") == "subscription":
        return str(found["id"])
    parent = (found.get("parent") or {}).get("subscription_details") or {}
    subscription = parent.get("subscription") or found.get("subscription")
    return str(subscription) if subscription else None


async def seat_for_subscription(
    session: AsyncSession, subscription_id: str, metadata: dict[str, str]
) -> Seat | None:
    """The seat a subscription pays for: by its id, else by the seat id in its metadata."""
    found = (
        await session.exec(
            select(Seat)
            .where(col(Seat.stripe_subscription_id) == subscription_id)
            .order_by(col(Seat.id).desc())
            .with_for_update()
        )
    ).first()
    return found or await _seat_from_metadata(session, metadata)


async def _seat_from_metadata(session: AsyncSession, metadata: dict[str, str]) -> Seat | None:
    seat_id = metadata.get("seat_id")
    if not seat_id or not seat_id.isdigit():
        return None
    # Locked: two events about one seat (checkout and subscription) may be applied at once.
    seat = await session.get(Seat, int(seat_id), with_for_update=True)
    if seat is None:
        return None
    # Seat ids start again after a database reset: the seat must be the same person's.
    telegram_id = metadata.get("telegram_id")
    member = await session.get(Member, seat.member_id)
    if telegram_id and (member is None or str(member.telegram_id) != telegram_id):
        log.warning("seat %s in Stripe's metadata belongs to someone else now", seat_id)
        return None
    return seat


async def trial_allowed(session: AsyncSession, member: Member) -> bool:
    """One free trial per person: not for someone who had one, or who has paid for a seat
    before (in Stripe or in Stars): they know the group already."""
    assert member.id is not None
    had = await session.exec(
        select(Seat.id)
        .where(col(Seat.member_id) == member.id)
        .where(
            or_(
                col(Seat.trial_ends_at).is_not(None), col(Seat.stripe_subscription_id).is_not(None)
            )
        )
    )
    if had.first() is not None:
        return False
    paid_in_stars = await session.exec(
        select(StarsSubscription.id).where(col(StarsSubscription.member_id) == member.id)
    )
    return paid_in_stars.first() is None


async def _gift_to_subscribe(session: AsyncSession, seat: Seat, now: datetime) -> bool:
    """A gift seat with two days or more to run and no subscription yet (Stripe wants a
    trial to end 48 hours or more after Checkout opens)."""
    if seat.status != SeatStatus.COMPED or seat.stripe_subscription_id:
        return False
    if seat.current_period_end is None or seat.current_period_end < now + GIFT_SUBSCRIBE_LEAD:
        return False
    found = await session.exec(
        select(AccessCode.id)
        .where(col(AccessCode.redeemed_seat_id) == seat.id)
        .where(col(AccessCode.kind) == CodeKind.GIFT)
    )
    return found.first() is not None


async def _month_off_code_used(session: AsyncSession, seat: Seat, now: datetime) -> None:
    """The Checkout a month-off access code opened was paid: the code is used up."""
    await session.exec(
        update(AccessCode)
        .where(col(AccessCode.redeemed_seat_id) == seat.id)
        .where(col(AccessCode.kind) == CodeKind.MONTH_OFF)
        .where(col(AccessCode.redeemed_at).is_(None))
        .values(redeemed_at=now)
    )


async def _member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    assert member is not None
    return member


async def _group(session: AsyncSession, group_id: int) -> Group:
    group = await session.get(Group, group_id)
    assert group is not None
    return group
