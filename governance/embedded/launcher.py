"""``python -m governance.embedded run`` (what ``make run`` starts): the embedded default on one
laptop: demo data and demo models, the local S3 server (:mod:`.s3server`) and Airflow
standalone (:mod:`.airflow`), in the foreground until Ctrl-C or SIGTERM stops them all.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from governance import config
from governance.embedded.airflow import EmbeddedAirflow, demo_users, embedded_env
from governance.embedded.ports import port_or_free
from governance.embedded.s3server import LocalS3Server

DESCRIPTION = """The embedded default: Airflow standalone on SQLite with this project's DAGs and plugins,
a local S3-compatible server, demo users and demo models — on one laptop.

``python -m governance.embedded run`` is what ``make run`` starts. The same code starts the
real Airflow used by the end-to-end tests and the latency benchmark (:class:`EmbeddedAirflow`).
"""
"""``python -m governance.embedded --help``'s description (the text it has always shown)."""


def load_demo_data() -> list[str]:
    """Demo evaluation data and artifacts, and the demo prediction logs."""
    from governance.embedded.demo import write_demo_files
    from governance.embedded.demo_predictions import write_all_demo_predictions

    return [str(p) for p in write_demo_files()] + [str(p) for p in write_all_demo_predictions()]


def _start_s3(data: Path, port: int) -> LocalS3Server:
    server = LocalS3Server.for_embedded_default(data_dir=data, s3_port=port)
    server.start()
    return server


def run(*, port: int, parallelism: int, s3_port: int = 8333) -> int:
    data = config.data_dir()
    home = data / "airflow"
    print(f"governance: data folder {data}")
    for path in load_demo_data():
        print(f"  demo data {path}")
    from governance.embedded.demo_registry import seed_demo_registry_from_config

    for line in seed_demo_registry_from_config():
        print(f"  demo model {line}")

    def _terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM takes the same way out as Ctrl-C

    # Stopping happens in the main flow, never inside the signal handler: a handler that
    # interrupts Popen.wait() cannot reap the child (the interrupted wait holds its lock),
    # which made every shutdown sit out the full grace periods.
    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    s3: LocalS3Server | None = None
    airflow: EmbeddedAirflow | None = None
    rc = 0
    try:
        s3 = _start_s3(data, s3_port)
        airflow = EmbeddedAirflow(
            home=home,
            port=port,
            parallelism=parallelism,
            # Airflow's internal log servers: the usual ports, or free ones beside another Airflow
            log_ports=(port_or_free(8793), port_or_free(8794)),
            extra_env={**embedded_env(), **s3.env()},
        )
        print("governance: starting Airflow standalone (first start migrates its database) …", flush=True)
        airflow.start(timeout=300)
        _print_welcome(airflow, s3)
        assert airflow.process is not None
        rc = airflow.process.wait()
        print(f"governance: Airflow exited with {rc}", flush=True)
    except KeyboardInterrupt:
        print("\ngovernance: stopping Airflow and the S3 server …", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        if airflow is not None:
            airflow.stop()
        if s3 is not None:
            s3.stop()
    return rc


def _print_welcome(airflow: EmbeddedAirflow, s3: LocalS3Server) -> None:
    users = demo_users()
    print()
    print(f"  Airflow UI:   {airflow.url}   (API: {airflow.url}/api/v2, governance API: {airflow.url}/governance)")
    print("  Demo users (development only — the password is the user name):")
    for user, role in users.items():
        print(f"    {user:<12} role {role}")
    print(f"  Demo cards:   {config.include_dir() / 'model_cards'}")
    print(f"  Governance DB: {config.db_url()}")
    print(f"  Local S3:     {s3.endpoint_url} (bucket {s3.bucket}; audit archive and reports)")
    print("  Submit: log in as 'owner', open DAG model_submission, Trigger (the form holds the CRITICAL demo card)")
    print(
        f"  Usage:  as 'gateway', POST {airflow.url}/governance/v1/usage/check "
        f"(policies {config.usage_policies_file()}; README 'Usage policies')"
    )
    print("  Stop:   Ctrl-C")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.embedded", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="start the embedded default in the foreground (Ctrl-C stops everything)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--parallelism", type=int, default=4, help="Airflow worker slots (default 4)")
    p.add_argument("--s3-port", type=int, default=8333, help="port of the local S3 server (default 8333)")
    args = parser.parse_args(argv)
    return run(port=args.port, parallelism=args.parallelism, s3_port=args.s3_port)


if __name__ == "__main__":
    sys.exit(main())
