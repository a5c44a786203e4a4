"""The register's engines never log a value: the SQL's parameters are hidden
(``hide_parameters``), and the rows fetched are never logged, whatever the logging set-up."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from activities.register import make_engine

CHILD = "Zephyrine Quillfeather"


def test_the_rows_fetched_are_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLAlchemy logs each row it fetches when its engine logger is at DEBUG (or echo="debug"):
    the register's engines drop those records, and keep the SQL (with its parameters hidden)."""
    for echo in (False, "debug"):
        engine = make_engine(f"sqlite:///{tmp_path / f'{echo}.db'}")
        engine.echo = echo
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"), engine.begin() as conn:
            conn.execute(text("CREATE TABLE child (name text)"))
            conn.execute(text("INSERT INTO child VALUES (:name)"), {"name": CHILD})
            assert conn.execute(text("SELECT name FROM child")).scalar() == CHILD
        engine.dispose()
        logged = caplog.text
        assert "SELECT name FROM child" in logged and "parameters hidden" in logged
        assert CHILD not in logged
