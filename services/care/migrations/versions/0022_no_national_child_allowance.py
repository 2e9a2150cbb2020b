"""no national child allowance of 0: a region without its own figure is refused, never paid nothing

The national row {"institution": 0, "community": 0} (0005) answered for every region that has no
allowance of its own, so an orphan in such a region was registered with 0 fen a month. Without it
the lookup finds nothing and the request is refused naming `village_code` and the policy; the
bureau adds the region's version.

Revision ID: 0022
Revises: 0021
"""

from datetime import UTC, date, datetime

from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

NAME, FROM = "care.child_allowance_fen", date(2021, 1, 1)


def upgrade():
    op.execute(
        policy_parameters.delete().where(
            policy_parameters.c.name == NAME,
            policy_parameters.c.region_code == NATIONAL,
            policy_parameters.c.effective_from == FROM,
        )
    )


def downgrade():
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": NATIONAL,
                "name": NAME,
                "effective_from": FROM,
                "value": {"institution": 0, "community": 0},
                "source": "assumed: no amount where the region has not set one (add the region's version)",
                "recorded_at": datetime.now(UTC),
                "recorded_by": "migration 0021 downgrade",
            }
        ],
    )
