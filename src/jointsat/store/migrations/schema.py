"""Build what the migrations repeat: columns, named constraints, indexed tables, triggers.

The names follow ``tables.NAMING_CONVENTION`` but are written out (``op.f``), so that a
revision never depends on today's tables. The migrations are the schema's history:
what a builder makes must never change, or an old revision would build another
table; a new shape gets a new builder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

APPEND_ONLY = "the audit log is append-only"


def integer(name: str, nullable: bool = False) -> sa.Column[Any]:
    """Return an INTEGER column (a count, or a reference by id)."""
    return sa.Column(name, sa.Integer(), nullable=nullable)


def integers(*names: str) -> list[sa.Column[Any]]:
    """Return an INTEGER column that is never NULL for each name."""
    return [integer(name) for name in names]


def big_integer(name: str, nullable: bool = False) -> sa.Column[Any]:
    """Return a BIGINT column."""
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def string(name: str, length: int, nullable: bool = False) -> sa.Column[Any]:
    """Return a VARCHAR column of ``length`` characters."""
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def text(name: str) -> sa.Column[Any]:
    """Return a TEXT column that is never NULL."""
    return sa.Column(name, sa.Text(), nullable=False)


def json(name: str, nullable: bool = False) -> sa.Column[Any]:
    """Return a JSON column."""
    return sa.Column(name, sa.JSON(), nullable=nullable)


def binary(name: str, nullable: bool = False) -> sa.Column[Any]:
    """Return a column of bytes of any size (BLOB, BYTEA)."""
    return sa.Column(name, sa.LargeBinary(), nullable=nullable)


def reals(*names: str, nullable: bool = False) -> list[sa.Column[Any]]:
    """Return a FLOAT column for each name."""
    return [sa.Column(name, sa.Float(), nullable=nullable) for name in names]


def times(*names: str, nullable: bool = False) -> list[sa.Column[Any]]:
    """Return a timezone-aware timestamp column for each name."""
    return [sa.Column(name, sa.DateTime(timezone=True), nullable=nullable) for name in names]


def booleans(*names: str) -> list[sa.Column[Any]]:
    """Return a BOOLEAN column that is never NULL for each name."""
    return [sa.Column(name, sa.Boolean(), nullable=False) for name in names]


def choice(name: str, *values: str, kind: str) -> sa.Column[Any]:
    """Return a column that takes one of ``values``, kept as text (no native enum type)."""
    return sa.Column(
        name, sa.Enum(*values, name=kind, native_enum=False, length=20), nullable=False
    )


def check(table: str, name: str, condition: str) -> sa.CheckConstraint:
    """Return the CHECK ``ck_<table>_<name>``."""
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def unique(table: str, column: str) -> sa.UniqueConstraint:
    """Return the UNIQUE ``uq_<table>_<column>``."""
    return sa.UniqueConstraint(column, name=op.f(f"uq_{table}_{column}"))


def foreign_key(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """Return ``fk_<table>_<column>_<target>``: ``column`` refers to ``target.id``."""
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def create_table(
    name: str,
    *elements: SchemaItem,
    key: Sequence[str] = ("id",),
    indexes: Sequence[str] = (),
) -> sa.Table:
    """Create a table, its primary key ``pk_<name>`` and an index ``ix_<name>_<column>`` each."""
    table = op.create_table(name, *elements, sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}")))
    for column in indexes:
        op.create_index(op.f(f"ix_{name}_{column}"), name, [column])
    return table


def drop_table(name: str, indexes: Sequence[str] = ()) -> None:
    """Drop a table made by ``create_table``, its indexes first."""
    for column in reversed(indexes):
        op.drop_index(op.f(f"ix_{name}_{column}"), table_name=name)
    op.drop_table(name)


def add_columns(table: str, *columns: sa.Column[Any], check: tuple[str, str]) -> None:
    """Add nullable ``columns`` to a table and the ``(name, condition)`` check they obey."""
    with op.batch_alter_table(table) as batch:
        for column in columns:
            batch.add_column(column)
        batch.create_check_constraint(*check)


def drop_columns(table: str, *names: str, check: str) -> None:
    """Drop the check named ``check`` and the columns that ``add_columns`` added."""
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(check, type_="check")
        for name in names:
            batch.drop_column(name)


def append_only(table: str) -> None:
    """Refuse every UPDATE and DELETE on ``table`` in the database itself (a trigger)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def drop_append_only(table: str) -> None:
    """Remove what ``append_only`` made (SQLite drops a table's triggers with the table)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION {table}_append_only()")


def version_counter(name: str = "version") -> sa.Column[Any]:
    """Return an INTEGER column that is never NULL and starts at 1 (a row's version)."""
    return sa.Column(name, sa.Integer(), nullable=False, server_default="1")


def append_columns(table: str, *columns: sa.Column[Any]) -> None:
    """Add columns in place (ALTER TABLE ... ADD COLUMN): the table and its triggers stay.

    Each column must be nullable or have a server default, so that rows already there
    get a value.
    """
    for column in columns:
        op.add_column(table, column)


def remove_columns(table: str, *names: str) -> None:
    """Drop, in place, the columns that ``append_columns`` added."""
    for name in names:
        op.drop_column(table, name)
