"""The ``governance`` command run as a process: quiet when its reader goes away, light imports.

``governance audit query --json | head`` must end without a traceback (exit 141, as a shell
reports for a command stopped by SIGPIPE), and ``governance status`` / ``list`` / ``audit
query`` must load what a database lookup needs and nothing else. The speed itself is
measured by ``benchmarks/cli_latency.py``, not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from governance.cli import common, main, registry
from governance.cli.common import EXIT_BROKEN_PIPE, EXIT_OK
from tests.support.cli_seed import seed_cli_db

EVENTS = 5_000  # ~1.7 MB of `audit query --json`, ~0.6 MB as text: far more than a pipe holds
MODELS = 1_500  # ~0.2 MB of `list` lines, ~4 MB of `list --json`
READ_BYTES = 100  # what the reader takes before it closes the pipe, like `head -c 100`

HEAVY = (
    "airflow",
    "alembic",
    "boto3",
    "botocore",
    "duckdb",
    "fairlearn",
    "great_expectations",
    "httpx",
    "matplotlib",
    "numpy",
    "pandas",
    "pyarrow",
    "pydantic",
    "requests",
    "sklearn",
    "yaml",
)
"""Modules a status lookup has no use for: Airflow, the data stack, S3, HTTP, and the model
card schema (pydantic, YAML), which only ``register`` and ``submit`` read."""


def _governance() -> list[str]:
    script = Path(sys.executable).with_name("governance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "governance.cli"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-process') / 'governance.db'}"
    name = seed_cli_db(url, events=EVENTS, models=MODELS)
    return {**os.environ, "GOVERNANCE_DB_URL": url}, name


def _read_then_close(argv: list[str], env: dict[str, str], *, read: int) -> tuple[bytes, int, str]:
    """Run ``governance ARGV``, read ``read`` bytes of its stdout, close the pipe, wait."""
    proc = subprocess.Popen([*_governance(), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    head = proc.stdout.read(read) if read else b""
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    return head, proc.returncode, err.decode()


@pytest.mark.parametrize(
    ("argv", "unbuffered"),
    [
        (["audit", "query", "--json", "--limit", str(EVENTS)], "1"),
        (["audit", "query", "--json", "--limit", str(EVENTS)], ""),  # block-buffered stdout
        (["audit", "query", "--limit", str(EVENTS)], ""),
        (["list"], "1"),
        (["list", "--json"], ""),
    ],
    ids=["audit-json-unbuffered", "audit-json-buffered", "audit-text", "list", "list-json"],
)
def test_a_reader_that_stops_early_gets_a_quiet_exit(seeded, argv: list[str], unbuffered: str) -> None:
    env, _ = seeded
    head, code, err = _read_then_close(argv, {**env, "PYTHONUNBUFFERED": unbuffered}, read=READ_BYTES)
    assert len(head) == READ_BYTES  # the command was writing when the reader left
    assert err == ""  # no traceback, no "Exception ignored ... BrokenPipeError" at exit
    assert code == EXIT_BROKEN_PIPE


def test_a_reader_gone_before_the_first_write_gets_a_quiet_exit(seeded) -> None:
    """Output small enough to sit in the buffer until exit (``governance status x | true``)."""
    env, name = seeded
    _, code, err = _read_then_close(["status", name], {**env, "PYTHONUNBUFFERED": ""}, read=0)
    assert err == ""
    assert code == EXIT_BROKEN_PIPE


def test_a_reader_of_everything_still_gets_exit_0(seeded) -> None:
    env, _ = seeded
    done = subprocess.run([*_governance(), "list", "--json"], capture_output=True, env=env, timeout=120)
    assert done.returncode == EXIT_OK and done.stderr == b""
    assert len(json.loads(done.stdout)) == MODELS


_LOADED = """
import json, sys
from governance.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "heavy": sorted(m for m in HEAVY if m in sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [["status", "{name}"], ["status", "{name}", "--json"], ["list"], ["audit", "query", "--limit", "10"]],
    ids=["status", "status-json", "list", "audit-query"],
)
def test_lookups_load_nothing_heavy(seeded, argv: list[str]) -> None:
    env, name = seeded
    code = f"HEAVY = {HEAVY!r}\n{_LOADED}"
    argv = [a.format(name=name) for a in argv]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result == {"code": EXIT_OK, "heavy": []}


def test_help_does_not_load_the_database_layer() -> None:
    code = "import sys\nfrom governance.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    code += "print([m for m in ('sqlalchemy', 'pydantic') if m in sys.modules], file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stderr.strip() == "[]"


def test_stdout_gone_tells_a_closed_pipe_from_a_live_one(monkeypatch: pytest.MonkeyPatch) -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as writer:
        monkeypatch.setattr(sys, "stdout", writer)
        assert common.stdout_gone() is False  # someone still reads
        os.close(read_fd)
        assert common.stdout_gone() is True


def test_a_broken_pipe_that_is_not_stdout_is_not_swallowed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An EPIPE from a socket or a worker's pipe is a real error, not ``| head``."""

    def broken(args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(registry, "cmd_list", broken)
    with open(tmp_path / "out.txt", "w") as stdout:  # a file: nobody "went away"
        monkeypatch.setattr(sys, "stdout", stdout)
        with pytest.raises(BrokenPipeError):
            main(["list"])
