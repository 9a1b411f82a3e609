#!/usr/bin/env bash
# Sets up what a fresh machine lacks, then runs the whole test suite (one `dotnet test` run).
# Usage: bash scripts/test.sh            (results: TestResults/*.trx)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
# Browser tests (tests/Mkio.Browser.Tests) drive Debian's Chromium by path, not a Playwright download.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# Python client tests (tests/python, driven by tests/Mkio.Browser.Tests) run Debian's Python with Debian's aiohttp.
/usr/bin/python3 -c 'import aiohttp' >/dev/null 2>&1 || need_apt+=(python3-aiohttp)
# The deployment walkthrough test (scripts/check-publish.sh) takes online backups with the sqlite3 shell.
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
# PostgreSQL tests start their own server (initdb + pg_ctl on a free loopback port, as the postgres user under root).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "Installing: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "Missing: ${need_apt[*]} (install them with apt-get as root)" >&2
  fi
fi

rm -rf TestResults
dotnet test Mkio.sln --logger "trx" --results-directory TestResults "$@"
