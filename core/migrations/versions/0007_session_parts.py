"""session parts: a session holds one or more parts, bookings and attendance belong to a part

Every existing session becomes a session of one part (its own interval), its bookings that part's
bookings and its learners' attendance that part's attendance, so nothing an API client sees changes.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

STATUS = sa.Enum('PRESENT', 'LATE', 'LEFT_EARLY', 'ABSENT', 'EXCUSED', name='attendancestatus', native_enum=False,
                 length=24)


def upgrade() -> None:
    op.create_table('session_part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['session.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'position')
    )
    with op.batch_alter_table('session_part', schema=None) as batch_op:
        batch_op.create_index('ix_session_part_starts_at', ['starts_at'], unique=False)
    op.create_table('part_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('status', STATUS, nullable=False),
    sa.Column('minutes_attended', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], ),
    sa.ForeignKeyConstraint(['part_id'], ['session_part.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('enrollment_id', 'part_id')
    )
    with op.batch_alter_table('part_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_part_attendance_part_id'), ['part_id'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a nullable column with its reference in place: no copy of the (large) booking table
        op.execute("ALTER TABLE booking ADD COLUMN part_id INTEGER REFERENCES session_part (id)")
        op.create_index('ix_booking_part_id', 'booking', ['part_id'], unique=False)
    else:
        op.add_column('booking', sa.Column('part_id', sa.Integer(), nullable=True))
        op.create_index('ix_booking_part_id', 'booking', ['part_id'], unique=False)
        op.create_foreign_key('fk_booking_part_id_session_part', 'booking', 'session_part', ['part_id'], ['id'])
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minimum_parts_attended', sa.Integer(), nullable=True))

    # Every session is a session of one part; its bookings and attendance are that part's (set-based SQL).
    op.execute("INSERT INTO session_part (session_id, position, starts_at, ends_at) "
               "SELECT id, 1, starts_at, ends_at FROM session")
    op.execute("UPDATE booking SET part_id = (SELECT session_part.id FROM session_part "
               "WHERE session_part.session_id = booking.session_id) WHERE session_id IS NOT NULL")
    op.execute("INSERT INTO part_attendance (enrollment_id, part_id, status, minutes_attended, source, recorded_at) "
               "SELECT attendance.enrollment_id, session_part.id, attendance.status, attendance.minutes_attended, "
               "attendance.source, attendance.recorded_at FROM attendance "
               "JOIN enrollment ON enrollment.id = attendance.enrollment_id "
               "JOIN session_part ON session_part.session_id = enrollment.session_id")


def downgrade() -> None:
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_column('minimum_parts_attended')
    op.drop_index('ix_booking_part_id', table_name='booking')
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('booking', schema=None) as batch_op:  # the unnamed reference goes with the copy
            batch_op.drop_column('part_id')
    else:
        op.drop_constraint('fk_booking_part_id_session_part', 'booking', type_='foreignkey')
        op.drop_column('booking', 'part_id')
    with op.batch_alter_table('part_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_part_attendance_part_id'))
    op.drop_table('part_attendance')
    with op.batch_alter_table('session_part', schema=None) as batch_op:
        batch_op.drop_index('ix_session_part_starts_at')
    op.drop_table('session_part')
