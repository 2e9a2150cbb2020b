"""a family's death notice verified by policy: the case's verification and its deadline; the
policy `funeral.family_notice` (act at once, or hold until a hospital or police notice or a
clerk confirms it within a number of days)

The national row keeps what the service did before (act at once) and is marked "assumed": the
documents do not say; a bureau that holds family notices adds its own version for its region.

Revision ID: 0003
Revises: 0002
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAME = "funeral.family_notice"


def upgrade():
    # verified: acted on | awaiting: a family's notice held for confirmation | lapsed: not confirmed in time
    # the cases there are were all acted on: verified
    op.add_column(
        "death_case",
        sa.Column("verification", sa.String(length=12), nullable=False, server_default="verified"),
    )
    op.add_column("death_case", sa.Column("verify_by", sa.Date(), nullable=True))
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": NATIONAL,
                "name": NAME,
                "effective_from": date(2021, 1, 1),
                "value": {"mode": "at_once", "confirm_within_days": 0},
                "source": "assumed: a family's notice is acted on at once (what the service did before)",
                "recorded_at": datetime.now(UTC),
                "recorded_by": "migration funeral 0002",
            }
        ],
    )


def downgrade():
    op.execute(sa.delete(policy_parameters).where(policy_parameters.c.name == NAME))
    with op.batch_alter_table("death_case") as batch:
        batch.drop_column("verify_by")
        batch.drop_column("verification")
