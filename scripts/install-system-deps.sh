#!/usr/bin/env bash
# Debian packages the test suite needs: PostgreSQL (the store's tests run on a real server)
# and Chromium (HTML reports are rendered in a real headless browser).
# Runs apt-get only for what is missing, and only as root; otherwise says what to install.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "note: install these Debian packages for the full test suite: ${missing[*]}" >&2
  echo "      (sudo apt-get install -y --no-install-recommends ${missing[*]})" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package's own cluster is not used (tests start their own servers); keep it stopped.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do
    pg_ctlcluster ${c%/*} ${c#*/} stop >/dev/null 2>&1 || true
  done
fi
