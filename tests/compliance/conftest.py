"""Fixtures of the compliance tests: the throwaway SQLite store of the checks' tests."""

from tests.checks.conftest import sqlite_store

__all__ = ["sqlite_store"]
