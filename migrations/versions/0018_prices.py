"""a price per group (from its Stripe price), and each Stripe seat's subscription status

Revision ID: 0018_prices
Revises: 0017_codes_stars
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0018_prices"
down_revision: str | None = "0017_codes_stars"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(
            sa.Column("stripe_price_id", sqlmodel.sql.sqltypes.AutoString(length=255))
        )
        batch.add_column(sa.Column("price_cents", sa.Integer()))
        batch.add_column(sa.Column("price_currency", sqlmodel.sql.sqltypes.AutoString(length=3)))
        batch.add_column(sa.Column("price_interval", sqlmodel.sql.sqltypes.AutoString(length=8)))
        batch.add_column(sa.Column("price_interval_count", sa.Integer()))
    with op.batch_alter_table("seats") as batch:
        batch.add_column(sa.Column("stripe_status", sqlmodel.sql.sqltypes.AutoString(length=32)))
        batch.add_column(sa.Column("billed_cents", sa.Integer()))
        batch.add_column(sa.Column("billed_currency", sqlmodel.sql.sqltypes.AutoString(length=3)))
    # A seat with a subscription was following it already: its status is as good as Stripe's
    # (a trial shows as one from the next event on); what it bills is known from the next
    # event on too (until then it counts at its group's price).
    op.execute(
        "UPDATE seats SET stripe_status = status WHERE stripe_subscription_id IS NOT NULL"
        " AND status IN ('active', 'past_due')"
    )


def downgrade() -> None:
    # Column by column, not a batch: SQLite (3.35 and later) drops a column in place, where a
    # batch would copy the table, which its foreign keys forbid for `groups`.
    for column in ("billed_currency", "billed_cents", "stripe_status"):
        op.drop_column("seats", column)
    for column in (
        "price_interval_count",
        "price_interval",
        "price_currency",
        "price_cents",
        "stripe_price_id",
    ):
        op.drop_column("groups", column)
