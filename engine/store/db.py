"""Where the data lives: the database URL, engines, sessions and migrations.

``DATABASE_URL`` selects the database for the app, the engine workers, the migrations and the
command line alike; without it, a SQLite file in the project folder is used.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, cast

from alembic.command import upgrade
from alembic.config import Config
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    Select,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
    true,
)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from engine.store.json_text import read_json, write_json

# The folder holding pyproject.toml and alembic.ini: engine/store/db.py is two packages below it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE = PROJECT_ROOT / "journey_builder.db"


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone, so it is restored)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        bind = self.process_bind_param
        # The last timestamp written and its text: a batch binds one ``now`` to most rows of every statement.
        # One tuple, replaced whole, so threads sharing this processor never pair a value with another's text.
        last: list[tuple[datetime | None, str | None]] = [(None, None)]

        # SQLite stores the text SQLAlchemy's DateTime would write ("2026-12-06 12:00:00.000000"),
        # written here by datetime's own formatting in C: the engine binds several timestamps for
        # every step a customer takes, and SQLAlchemy's formatting of each was the larger cost.
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            seen, text = last[0]
            if seen is value:
                return text
            utc = bind(value, dialect)
            text = None if utc is None else utc.isoformat(" ", "microseconds")
            last[0] = (value, text)
            return text

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def among(column: ColumnElement[Any] | Mapped[Any], values: Iterable[Any], *, dialect: str) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``column = ANY(:values)``, one array parameter of the column's type. A
    batch looks up thousands of ids, and psycopg converts the text of a statement with thousands of placeholders on
    every run (it caches no conversion of a statement that long). On SQLite the list is bound as one expanding
    parameter: SQLAlchemy then skips building an expression for each value."""
    listed = list(values)
    if dialect == "postgresql":
        # An ORM attribute (``col(Model.field)``) carries its column's type as a column does.
        of = cast(ColumnElement[Any], column).type
        return column == any_(bindparam(None, listed, type_=ARRAY(of)))
    return column.in_(bindparam(None, listed, expanding=True))


def select_by_unique(
    selected: Select[Any], column: ColumnElement[Any] | Mapped[Any], values: Iterable[Any], *, dialect: str
) -> Select[Any]:
    """``selected``'s rows whose ``column``, which a unique index covers, holds one of ``values``. On PostgreSQL each
    value is looked up on its own, ``unnest`` of the values joined laterally to the index: ``column = ANY(:values)``
    is planned as a scan of the whole table, each row compared with every value, until the table is first analysed
    (a minute or more on a new database), which cost the intake 27 ms a batch by 15,000 events."""
    listed = list(values)
    if dialect != "postgresql":
        return selected.where(among(column, listed, dialect=dialect))
    of = cast(ColumnElement[Any], column).type
    wanted = func.unnest(bindparam(None, listed, type_=ARRAY(of))).table_valued("value").render_derived(name="wanted")
    found = selected.where(column == wanted.c.value).limit(1).lateral("found")
    return select(*found.c).select_from(wanted).join(found, true())


def enum_type(enum: type[StrEnum]) -> SqlEnum:
    """Store an enum's values as plain text: no native PostgreSQL type to migrate when a status is added."""
    return SqlEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


def normalise_url(url: str) -> str:
    """Accept the spellings hosting providers hand out and use psycopg 3 for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def database_url() -> str:
    return normalise_url(os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}")


def _sqlite_pragmas(connection: Any, _: ConnectionPoolEntry) -> None:
    # WAL lets the web app read while the engine writes; NORMAL is durable across application
    # crashes and is what makes batched writes fast; foreign keys are off by default in SQLite.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@cache
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, json_serializer=write_json, json_deserializer=read_json
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        json_serializer=write_json,
        json_deserializer=read_json,
    )


def get_engine(url: str | None = None) -> Engine:
    return _engine(normalise_url(url) if url else database_url())


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class _TurnLock:
    """A lock handed to waiters in the order they asked for it.

    SQLite takes one writer at a time and makes the others retry after growing sleeps, so a writer that commits and
    writes again at once (the engine's event consumer, batch after batch) could keep the intake's requests waiting
    for as long as it has work. Queued here in turn, each waits for at most the writes queued before it.

    Each waiter sleeps on a lock of its own, which the writer before it releases: waking every queued thread at each
    release (a condition's ``notify_all``) made each of them take the GIL only to sleep again, which cost the intake
    a fifth of its CPU with 16 requests queued.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._queue: deque[threading.Lock] = deque()
        self._held = False

    def __enter__(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            waiter = threading.Lock()
            waiter.acquire()
            self._queue.append(waiter)
        # Released by the writer before: the turn passes to this thread without the lock falling free in between.
        waiter.acquire()

    def __exit__(self, *_: object) -> None:
        with self._guard:
            if self._queue:
                self._queue.popleft().release()
            else:
                self._held = False


@cache
def _sqlite_writers(url: str) -> _TurnLock:
    return _TurnLock()


def writer_turns(url: str | None = None) -> AbstractContextManager[Any]:
    """What a write transaction of this process holds while it runs: on SQLite a turn among the process's writers
    (intake requests, the engine's event consumer), on PostgreSQL nothing (row locks order its writers)."""
    engine = get_engine(url)
    return _sqlite_writers(str(engine.url)) if engine.dialect.name == "sqlite" else nullcontext()


def alembic_config(url: str | None = None) -> Config:
    """The project's alembic.ini, aimed at ``url`` (default: ``database_url()``) whatever the working folder."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = normalise_url(url) if url else database_url()
    return config


def upgrade_database(url: str | None = None) -> None:
    """Apply every migration (``alembic upgrade head``) to the database."""
    upgrade(alembic_config(url), "head")
