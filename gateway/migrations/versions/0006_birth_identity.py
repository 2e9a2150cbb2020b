"""A birth is identified by its certificate number (出生医学证明编号, unique in the country), not by the
hospital and the number: the same number again with other facts is a conflict, never the first
family's birth. The facts of the first notice are kept to tell a retry from another birth.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("birth_notice") as batch:
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=True))  # none for notices kept before this
        batch.create_unique_constraint("uq_birth_notice_certificate", ["birth_certificate_number"])


def downgrade():
    with op.batch_alter_table("birth_notice") as batch:
        batch.drop_constraint("uq_birth_notice_certificate", type_="unique")
        batch.drop_column("facts")
