"""A step reads as its owner's latest report (by event time), no longer its first: the steps whose
later reports were set aside under the first-word rule (a step restated after a corrected date of
death) are folded again from their reports. No table changes; completion is unchanged (a restated
outcome stays done or not applicable).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# gateway.progress_rules.FOLLOWS as of this revision, frozen here so that the revision does what it
# did whatever the rules become: which word of a step's owner may follow which
_FOLLOWS = {
    "pending": {"done", "rejected", "not_applicable", "reversed"},
    "done": {"done", "not_applicable", "reversed"},
    "not_applicable": {"done", "not_applicable", "reversed"},
    "rejected": {"rejected", "reversed"},
    "reversed": {"reversed"},
}

_step = sa.table(
    "matter_step",
    sa.column("matter_id"),
    sa.column("step"),
    sa.column("state"),
    sa.column("reported_at"),
    sa.column("reason"),
)
_report = sa.table(
    "step_report",
    sa.column("id"),
    sa.column("matter_id"),
    sa.column("step"),
    sa.column("state"),
    sa.column("reported_at"),
    sa.column("reason"),
    sa.column("applied"),
)


def upgrade():
    conn = op.get_bind()
    stale = conn.execute(
        sa.select(_report.c.matter_id, _report.c.step).where(_report.c.applied == "ignored").distinct()
    ).all()
    for matter_id, step in stale:
        where = sa.and_(_step.c.matter_id == matter_id, _step.c.step == step)
        if conn.execute(sa.select(_step.c.state).where(where)).scalar() in (None, "not_started"):
            continue
        state, reported_at, reason = "pending", None, None
        for report in conn.execute(
            sa.select(_report)
            .where(_report.c.matter_id == matter_id, _report.c.step == step, _report.c.applied != "refused")
            .order_by(_report.c.reported_at, _report.c.id)
        ).all():
            follows = report.state in _FOLLOWS.get(state, ())
            if follows:
                state, reported_at, reason = report.state, report.reported_at, report.reason
            conn.execute(
                sa.update(_report).where(_report.c.id == report.id).values(applied="yes" if follows else "ignored")
            )
        if state != "pending":
            conn.execute(sa.update(_step).where(where).values(state=state, reported_at=reported_at, reason=reason))


def downgrade():
    pass  # the steps keep the words they read as; the first-word rule folds nothing again
