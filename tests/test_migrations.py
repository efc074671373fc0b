"""Alembic migrations create exactly the schema of governance/store/tables.py, idempotently."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from governance.audit import GENESIS_HASH
from governance.store import make_engine, migrate
from governance.store.migrate import alembic_config, current_revision, head_revision
from governance.store.tables import metadata


def _diff(engine) -> list:
    # SQLite reflects server_default="" as "''", which alembic reports as a change: compare
    # server defaults on PostgreSQL, and check SQLite's by hand below.
    opts = {"compare_type": True, "compare_server_default": engine.dialect.name == "postgresql"}
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)


def _schema(engine) -> dict:
    insp = inspect(engine)
    return {
        t: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t)),
            sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(t)),
        )
        for t in sorted(insp.get_table_names())
    }


def test_upgrade_creates_exactly_the_declared_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        before, after = migrate(engine)
        assert before is None and after == head_revision(engine)
        assert _diff(engine) == []
        tables = set(inspect(engine).get_table_names())
        assert tables == set(metadata.tables) | {"alembic_version"}
        for table in ("evidence", "decisions"):
            run_id = next(c for c in inspect(engine).get_columns(table) if c["name"] == "run_id")
            assert run_id["default"] in ("''", "''::character varying")
        with engine.connect() as conn:
            head = conn.execute(text("SELECT id, last_id, last_hash, base_id, base_hash FROM audit_head")).all()
        assert [tuple(r) for r in head] == [(1, 0, GENESIS_HASH, 0, GENESIS_HASH)]
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        schema = _schema(engine)
        assert migrate(engine) == (head_revision(engine), head_revision(engine))
        assert _schema(engine) == schema
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_head")).scalar_one() == 1
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_downgrade_one_step_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        assert current_revision(engine) == "0001"
        names = {i["name"] for i in inspect(engine).get_indexes("audit_events")}
        assert "ix_audit_events_timestamp" in names and "ix_audit_events_timestamp_id" not in names
        migrate(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()
