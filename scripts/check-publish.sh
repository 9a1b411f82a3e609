#!/usr/bin/env bash
# Checks the deployment recipes of docs/deployment.md on this machine:
#   1. `mkio` published framework-dependent and as a self-contained single file;
#   2. each output answers `--help`, serves deploy/mkio.example.toml (`serve --port 0`), answers
#      /health, /api/services, a transaction, and the Dockerfile's HEALTHCHECK command; then stops
#      cleanly on SIGTERM (exit 0);
#   3. the documented online backup (sqlite3 `.backup` and `VACUUM INTO`) of the live database holds
#      the rows and the _mkio_journal;
#   4. deploy/mkio.service passes `systemd-analyze verify` (when systemd-analyze exists).
# Containers are not built here (no container engine); the test suite checks the Dockerfiles' COPY paths.
# Usage: bash scripts/check-publish.sh [work-dir]     (default: a fresh temp folder, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=${1:-$(mktemp -d)}
keep=${1:+yes}
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -z "$keep" ] && rm -rf "$work"
}
trap cleanup EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
fail() { echo "FAILED: $*" >&2; exit 1; }

echo "== publish (framework-dependent)"
dotnet publish src/Mkio.Cli -c Release -o "$work/fdd" -nologo -v q
echo "== publish (self-contained single file, linux-x64)"
dotnet publish src/Mkio.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -o "$work/sc" -nologo -v q
echo "   fdd: $(du -sh "$work/fdd" | cut -f1) in $(ls "$work/fdd" | wc -l) files; single file: $(du -h "$work/sc/mkio" | cut -f1)"

http_get() {  # host port path -> prints status line + body, the way the Dockerfile HEALTHCHECK talks
  exec 3<>"/dev/tcp/$1/$2"
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$3" >&3
  cat <&3
  exec 3<&-
}

check_output() {  # name exe
  local name=$1 exe=$2 dir="$work/run-$1"
  echo "== $name: $exe"
  "$exe" --help | grep -q 'serve' || fail "$name: --help does not list serve"
  mkdir -p "$dir" && cp deploy/mkio.example.toml "$dir/mkio.toml"
  ( cd "$dir" && exec "$exe" serve mkio.toml --host 127.0.0.1 --port 0 >"$dir/out.log" 2>&1 ) &
  local pid=$!; pids+=("$pid")
  local port=""
  for _ in $(seq 1 120); do
    port=$(sed -n 's/^======== Running on http:\/\/127\.0\.0\.1:\([0-9]*\) ========$/\1/p' "$dir/out.log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/out.log"; fail "$name: serve exited"; }
    sleep 0.5
  done
  [ -n "$port" ] || { cat "$dir/out.log"; fail "$name: no 'Running on' line within 60 s"; }
  echo "   listening on 127.0.0.1:$port"
  http_get 127.0.0.1 "$port" /health | grep -q 'Healthy' || fail "$name: /health is not Healthy"
  http_get 127.0.0.1 "$port" /api/services | grep -q '"name": "add_note"' || fail "$name: /api/services lacks add_note"
  # The Dockerfile's HEALTHCHECK command, verbatim but for the port.
  bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '" \
    || fail "$name: the HEALTHCHECK command failed"
  "$exe" send "$port" add_note '[{"author":"ann","text":"one"},{"author":"bob","text":"two"}]' | grep -c ' ok ref=' | grep -qx 2 \
    || fail "$name: mkio send did not commit two notes"

  if [ "$name" = "self-contained" ]; then
    echo "== online backup of the live database (docs/deployment.md)"
    if command -v sqlite3 >/dev/null; then
      sqlite3 "$dir/mkio.db" ".backup '$dir/backup-dot.db'"
      [ "$(sqlite3 "$dir/backup-dot.db" 'SELECT count(*) FROM notes')" = 2 ] || fail ".backup copy lacks the notes"
      [ "$(sqlite3 "$dir/backup-dot.db" 'SELECT count(*) FROM _mkio_journal')" -ge 2 ] || fail ".backup copy lacks the journal"
      sqlite3 "$dir/mkio.db" "VACUUM INTO '$dir/backup-vacuum.db'"
      [ "$(sqlite3 "$dir/backup-vacuum.db" 'PRAGMA integrity_check')" = ok ] || fail "VACUUM INTO copy is not intact"
      [ "$(sqlite3 "$dir/backup-vacuum.db" 'SELECT count(*) FROM notes')" = 2 ] || fail "VACUUM INTO copy lacks the notes"
      echo "   sqlite3 .backup and VACUUM INTO: both copies hold the 2 notes and the journal"
    else
      [ "${CI:-}" = true ] && fail "sqlite3 is not installed (scripts/test.sh installs it)"
      echo "   sqlite3 not installed: skipped (tests/Mkio.AspNetCore.Tests covers VACUUM INTO)"
    fi
  fi

  kill -TERM "$pid"
  local rc=0; wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { cat "$dir/out.log"; fail "$name: exit status $rc after SIGTERM"; }
  [ ! -e "$dir/mkio.db-wal" ] || [ ! -s "$dir/mkio.db-wal" ] || fail "$name: WAL not checkpointed at shutdown"
  echo "   SIGTERM: clean exit 0"
}

check_output framework-dependent "$work/fdd/mkio"
check_output self-contained "$work/sc/mkio"

echo "== systemd unit"
if command -v systemd-analyze >/dev/null; then
  # verify needs ExecStart to exist: point it at the single file just published.
  sed "s|/opt/mkio/mkio|$work/sc/mkio|" deploy/mkio.service > "$work/mkio.service"
  out=$(systemd-analyze verify "$work/mkio.service" 2>&1) || fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify warnings: $out"
  echo "   systemd-analyze verify: no warnings ($(systemd-analyze --version | head -1))"
else
  echo "   systemd-analyze not installed: skipped"
fi
echo "publish check: OK"
