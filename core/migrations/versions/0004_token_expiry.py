"""api tokens expire: api_token.expires_at

Tokens issued before this revision get 365 days from the upgrade, so none stays valid forever.

Revision ID: 0004
Revises: 0003
"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    expires = datetime.now(UTC) + timedelta(days=365)
    if op.get_bind().dialect.name == 'sqlite':
        expires = expires.replace(tzinfo=None)  # naive UTC text, as the models store it on SQLite
    api_token = sa.table('api_token', sa.column('expires_at', sa.DateTime(timezone=True)))
    op.execute(api_token.update().where(api_token.c.expires_at.is_(None)).values(expires_at=expires))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
