"""portal: venues get a city and a country; catalogue search keys and the indexes its filters use

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 01:40:00
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _fold(text):
    """As podium.core.text_search.fold, copied so this migration stays as it was written."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def _search_text(*parts):
    return "\n".join(_fold(part) for part in parts if part)


def upgrade() -> None:
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('city', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('country', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('city_key', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_venue_city_key', ['city_key'], unique=False)
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.create_index('ix_resource_venue_id', ['venue_id'], unique=False)
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
    with op.batch_alter_table('session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
        batch_op.create_index('ix_session_ends_at', ['ends_at'], unique=False)

    bind = op.get_bind()
    course = sa.table('course', sa.column('id', sa.Integer), sa.column('code', sa.String),
                      sa.column('title', sa.String), sa.column('description', sa.Text),
                      sa.column('search_text', sa.Text))
    session = sa.table('session', sa.column('id', sa.Integer), sa.column('title', sa.String),
                       sa.column('search_text', sa.Text))
    for row in bind.execute(sa.select(course.c.id, course.c.code, course.c.title, course.c.description)).all():
        bind.execute(course.update().where(course.c.id == row.id)
                     .values(search_text=_search_text(row.code, row.title, row.description)))
    for row in bind.execute(sa.select(session.c.id, session.c.title)).all():
        bind.execute(session.update().where(session.c.id == row.id).values(search_text=_search_text(row.title)))


def downgrade() -> None:
    with op.batch_alter_table('session', schema=None) as batch_op:
        batch_op.drop_index('ix_session_ends_at')
        batch_op.drop_column('search_text')
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_column('search_text')
    with op.batch_alter_table('resource', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_venue_id')
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.drop_index('ix_venue_city_key')
        batch_op.drop_column('city_key')
        batch_op.drop_column('country')
        batch_op.drop_column('city')
