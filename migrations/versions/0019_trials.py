"""a free trial per group and Stripe promotion codes at its Checkout; when a seat's trial ends

Revision ID: 0019_trials
Revises: 0017_codes_stars
Create Date: 2026-12-02 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_trials"
down_revision: str | None = "0017_codes_stars"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("trial_days", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("promotion_codes", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("seats") as batch:
        batch.add_column(sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seats") as batch:
        batch.drop_column("trial_ends_at")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("promotion_codes")
        batch.drop_column("trial_days")
