#!/usr/bin/env bash
# The embedded default: Airflow standalone (SQLite) + local S3 + demo users and models.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m governance.embedded run "$@"
