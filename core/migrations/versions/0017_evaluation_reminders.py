"""evaluation reminders: when a request's one reminder went out (null: not yet), and requests found by
when they were made (the job `remind_evaluations` reads them oldest first)

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('evaluation_request') as batch:
        batch.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_evaluation_request_requested_at', 'evaluation_request', ['requested_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_evaluation_request_requested_at', table_name='evaluation_request')
    with op.batch_alter_table('evaluation_request') as batch:
        batch.drop_column('reminded_at')
