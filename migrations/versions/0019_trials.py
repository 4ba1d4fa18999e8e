"""a free trial per group and Stripe promotion codes at its Checkout; when a seat's trial ends

Revision ID: 0019_trials
Revises: 0018_prices
Create Date: 2026-12-02 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_trials"
down_revision: str | None = "0018_prices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs (no batch): SQLite adds a column in place, a batch would copy `groups`.
    op.add_column(
        "groups", sa.Column("trial_days", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "groups",
        sa.Column("promotion_codes", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("seats", sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Column by column, not a batch: SQLite drops a column in place, where a batch would copy
    # the table, which its foreign keys forbid for `groups` (as in 0018_prices).
    op.drop_column("seats", "trial_ends_at")
    for column in ("promotion_codes", "trial_days"):
        op.drop_column("groups", column)
