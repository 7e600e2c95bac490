"""Many rows in few statements, without SQLAlchemy's handling of each row.

On PostgreSQL each column is sent as one array parameter and unnested. psycopg converts a statement's text to
PostgreSQL's placeholders on every run and caches no conversion of a long one. SQLAlchemy writes a batch's thousands
of rows as multi-row VALUES (thousands of placeholders) or as an executemany; on PostgreSQL the engine's event
consumer spent over half its time in those statements, a fifth of it in psycopg's conversion of their text.
One array per column keeps the statement the same few lines whatever the batch size, and one round trip. Rows that
need nothing back (no returned ids, no conflict to skip) go by ``COPY`` instead, which psycopg writes in C.

On SQLite rows are inserted by one prepared statement run for each (or, to return columns, as VALUES lists of
rows): SQLAlchemy's processing of each row's parameters cost an intake request more than SQLite's writing of them.
Updates keep SQLAlchemy's executemany on SQLite; :func:`update_rows` is PostgreSQL's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import ColumnDefault, Float, Row, String, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: Sequence[str] = (),
    unless_taken: Sequence[str] = (),
) -> list[Row[Any]]:
    """Insert the rows, in their order (ids from a sequence follow it); the ``returning`` columns of the new rows, or
    nothing. With ``unless_taken`` (the columns of a unique index), a row whose values there another row holds is left
    out, as ``ON CONFLICT DO NOTHING`` does. On PostgreSQL ``INSERT INTO table (columns of the rows) SELECT … FROM
    unnest(one array per column)``, or ``COPY`` when nothing is returned or left out; on SQLite a prepared ``INSERT``
    run for each row, or VALUES lists of rows when columns are returned."""
    if not rows:
        return []
    rows = _with_defaults(table, rows)
    names = list(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        return _sqlite_insert(session, table, names, rows, returning, unless_taken)
    if not returning and not unless_taken:
        _copy(session, table, names, rows)
        return []
    arrays, parameters = _unnested(dialect, names, {name: table.c[name].type for name in names}, rows)
    listed = ", ".join(names)
    statement = (
        f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {arrays} WITH ORDINALITY AS u({listed}, _row) "
        "ORDER BY _row"
    )
    if unless_taken:
        statement += f" ON CONFLICT ({', '.join(unless_taken)}) DO NOTHING"
    if returning:
        statement += " RETURNING " + ", ".join(returning)
    result = session.connection().exec_driver_sql(statement, parameters)
    return list(result.all()) if returning else []


def _copy(session: Session, table: Table, names: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """``COPY table (names) FROM STDIN`` on the session's own connection (its transaction): psycopg writes the rows
    in C, where binding them as arrays ran Python for every value, and PostgreSQL parses no statement for them. The
    driver's error is raised as SQLAlchemy's (a value the database refuses is a ``DataError``), as a statement's is."""
    values = _bound_values(session.get_bind().dialect, table, names, rows)
    statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    except psycopg.Error as error:
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error


# SQLite before 3.32 took at most 999 parameters in a statement.
_SQLITE_PARAMETERS = 999


def _sqlite_insert(
    session: Session,
    table: Table,
    names: list[str],
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str],
    unless_taken: Sequence[str],
) -> list[Row[Any]]:
    values = _bound_values(session.get_bind().dialect, table, names, rows)
    head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
    tail = f" ON CONFLICT ({', '.join(unless_taken)}) DO NOTHING" if unless_taken else ""
    one = "(" + ", ".join("?" * len(names)) + ")"
    connection = session.connection()
    if not returning:
        connection.exec_driver_sql(head + one + tail, values)
        return []
    tail += " RETURNING " + ", ".join(returning)
    per_statement = max(1, _SQLITE_PARAMETERS // len(names))
    returned: list[Row[Any]] = []
    for start in range(0, len(values), per_statement):
        chunk = values[start : start + per_statement]
        statement = head + ", ".join([one] * len(chunk)) + tail
        returned.extend(connection.exec_driver_sql(statement, tuple(v for row in chunk for v in row)).all())
    return returned


def _bound_values(
    dialect: Dialect, table: Table, names: list[str], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """The rows' values in ``names``' order, each through its column's bind processor where the column's type has
    one (timestamps, JSON, enums, booleans): the engine writes thousands of rows of a dozen columns a batch, most
    of them plain."""
    processed = [
        (index, process)
        for index, name in enumerate(names)
        if (process := _processor(table.c[name].type, dialect)) is not None
    ]
    values = []
    for row in rows:
        row_values = [row[name] for name in names]
        for index, process in processed:
            row_values[index] = process(row_values[index])
        values.append(tuple(row_values))
    return values


def _with_defaults(table: Table, rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The rows with the columns they leave out that have a default in Python (as SQLAlchemy's own insert would
    fill them: ``lease_version`` 0, ``in_doubt`` false); defaults the database keeps are left to it."""
    given = rows[0].keys()
    missing = {}
    for column in table.c:
        default = column.default
        if column.name in given or default is None or not isinstance(default, ColumnDefault):
            continue
        missing[column.name] = default.arg(None) if default.is_callable else default.arg
    return [{**row, **missing} for row in rows] if missing else rows


def update_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: tuple[str, str],
    types: Mapping[str, TypeEngine[Any]],
    assign: Mapping[str, str],
) -> None:
    """``UPDATE table AS t SET assign FROM unnest(one array per key of the rows) AS u WHERE t.key[0] = u.key[1]``.

    ``types`` gives each key of the rows its SQL type; ``assign`` each column set its expression, over ``t`` (the
    row as it was) and ``u`` (the new values). A row updated twice must be merged by the caller first: which of two
    rows for one target PostgreSQL takes is not defined.
    """
    if not rows:
        return
    names = list(rows[0])
    arrays, parameters = _unnested(session.get_bind().dialect, names, types, rows)
    target, source = key
    sets = ", ".join(f"{column} = {expression}" for column, expression in assign.items())
    session.connection().exec_driver_sql(
        f"UPDATE {table.name} AS t SET {sets} FROM {arrays} AS u({', '.join(names)}) WHERE t.{target} = u.{source}",
        parameters,
    )


def _unnested(
    dialect: Dialect, names: Sequence[str], types: Mapping[str, TypeEngine[Any]], rows: Sequence[Mapping[str, Any]]
) -> tuple[str, dict[str, list[Any]]]:
    """``unnest(CAST(%(c0)b AS type[]), …)`` over the rows' columns, and its parameters (values as the column's type
    binds them)."""
    casts: list[str] = []
    parameters: dict[str, list[Any]] = {}
    for index, name in enumerate(names):
        sql_type = types[name]
        parameter = f"c{index}"
        convert = _converter(sql_type, dialect)
        parameters[parameter] = [convert(row[name]) for row in rows]
        # Binary (%b): psycopg writes a text array by escaping every element with a regular expression, which
        # cost more than everything else it does with the batch.
        casts.append(f"CAST(%({parameter})b AS {_array_element(sql_type, dialect)}[])")
    return f"unnest({', '.join(casts)})", parameters


def _array_element(sql_type: TypeEngine[Any], dialect: Dialect) -> str:
    # Text of any length: an explicit cast to varchar(n) would cut a longer value silently, where storing it into
    # the column refuses it (and the engine then fails that run alone, with the reason).
    stored = sql_type.impl_instance if isinstance(sql_type, TypeDecorator) else sql_type
    return "TEXT" if isinstance(stored, String) else sql_type.compile(dialect=dialect)


def _converter(sql_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """What the column's type does to a value it binds (a timestamp to UTC, a dict to JSON text, an enum to its
    value); JSON goes as text and is cast, psycopg having no array of json to adapt a list of dicts to."""
    process = _processor(sql_type, dialect)
    return process if process is not None else _unchanged


def _processor(sql_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(sql_type, Float):
        # An array's elements (and a COPY's column) share one type: a whole number among fractions goes as one too.
        return _fraction
    return sql_type.dialect_impl(dialect).bind_processor(dialect)


def _fraction(value: Any) -> float | None:
    return None if value is None else float(value)


def _unchanged(value: Any) -> Any:
    return value
