#!/usr/bin/env bash
# Follows docs/getting-started.md §3 ("Embed mkio in a new web app") on this machine, outside the
# repository: packs the packages, creates a new web app, adds Mkio.AspNetCore from the packed
# folder, writes the page's mkio.toml, Program.cs and csproj item (extracted from the page), runs
# it, drives it with the packed `mkio` tool, then connects a new console app through the packed
# Mkio.Client (send, check, filtered subscribe) as docs/dotnet-client.md shows; then adds OpenTelemetry
# as the page shows (console traces, Prometheus /metrics) and publishes and runs the app from its output.
# Usage: bash scripts/check-getting-started.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
app_pid=""
cleanup() { [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
fail() { echo "FAILED: $*" >&2; exit 1; }
block() {  # page marker -> the first fenced block of the page whose text contains marker
  python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
for m in re.finditer(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M):
    if sys.argv[2] in m.group(1):
        sys.stdout.write(m.group(1)); break
else:
    sys.exit("no block containing " + sys.argv[2])
PY
}
start_app() {  # log-file command... -> starts it in the background, sets app_pid and port
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  app_pid=$!
  port=""
  for _ in $(seq 1 120); do
    port=$(sed -n 's/.*Now listening on: http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$port" ] && return 0
    kill -0 "$app_pid" 2>/dev/null || { cat "$log"; fail "the app exited"; }
    sleep 0.5
  done
  cat "$log"; fail "the app did not start listening"
}
fetch() {  # url -> body (python3, which this script needs anyway; no curl on a bare machine)
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' "$1"
}
stop_app() {  # SIGTERM, expect exit 0
  kill -TERM "$app_pid"; local rc=0; wait "$app_pid" || rc=$?; app_pid=""
  [ "$rc" = 0 ] || fail "the app exited with $rc after SIGTERM"
}
page="$repo/docs/getting-started.md"

echo "== pack"
dotnet pack Mkio.sln -c Release -o "$work/mkio-packages" -nologo -v q >/dev/null
echo "== new web app from the packages"
# From here a clean package cache, so nothing stale from an earlier pack of the same version is used.
export NUGET_PACKAGES="$work/nuget-cache"
cd "$work"
dotnet new web -o Shop >/dev/null
cd Shop
cat > nuget.config <<EOF
<configuration>
  <packageSources>
    <add key="mkio-local" value="$work/mkio-packages" />
  </packageSources>
</configuration>
EOF
dotnet add package Mkio.AspNetCore --version 0.1.0 >/dev/null
block "$page" 'db_path = "shop.db"' > mkio.toml
block "$page" 'builder.Services.AddMkio("mkio.toml")' > Program.cs
item=$(block "$page" '<None Update="mkio.toml"')
python3 - "$item" <<'PY'
import sys
p = "Shop.csproj"; s = open(p).read()
open(p, "w").write(s.replace("</Project>", sys.argv[1] + "</Project>"))
PY
dotnet build -nologo -v q >/dev/null || fail "the app does not build"
[ -f bin/Debug/net10.0/mkio.toml ] || fail "mkio.toml is not copied to the output"
start_app run.log dotnet run --no-build --urls http://127.0.0.1:0
echo "   Shop listens on 127.0.0.1:$port"

echo "== drive it with the packed mkio tool"
dotnet tool install Mkio.Cli --tool-path "$work/tools" --add-source "$work/mkio-packages" --version 0.1.0 >/dev/null
mkio="$work/tools/mkio"
"$mkio" services "$port" | grep -q open_orders || fail "mkio services does not list open_orders"
"$mkio" send "$port" orders --op new '{"symbol":"AAPL","qty":100}' | grep -q '^\[1/1\] ok ref=' || fail "send new"
"$mkio" send "$port" orders --op fill '{"id":1}' | grep -q '^\[1/1\] ok ref=' || fail "send fill"
[ -f shop.db ] || fail "shop.db was not created in the working directory"

echo "== .NET client from the packages"
cd "$work"
dotnet new console -o ShopClient >/dev/null
cd ShopClient
cp ../Shop/nuget.config .
dotnet add package Mkio.Client --version 0.1.0 >/dev/null
cat > Program.cs <<'CS'
using System.Text.Json.Nodes;
using Mkio.Client;

using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
var ct = cts.Token;
await using var client = new MkioClient(new Uri(args[0]), new MkioClientOptions());
await client.ConnectAsync(ct);
var r = await client.SendAsync("orders", new JsonObject { ["symbol"] = "MSFT", ["qty"] = 5 }, op: "new", cancellationToken: ct);
var check = await client.CheckAsync("orders", r.Ref, ct);
Console.WriteLine(check.IsKnown ? "committed" : "unknown");
await foreach (var e in client.SubscribeAsync("open_orders", filter: "status == 'pending'", cancellationToken: ct))
{
    Console.WriteLine($"{e.Type} {e.Rows.GetArrayLength()}");
    break;
}
CS
out=$(dotnet run -- "ws://127.0.0.1:$port/ws")
echo "$out" | sed 's/^/   /'
[ "$out" = $'committed\nSnapshot 1' ] || fail "the client did not see exactly the one pending order"

stop_app

echo "== traces and metrics"
cd "$work/Shop"
dotnet add package Mkio.OpenTelemetry --version 0.1.0 >/dev/null
dotnet add package OpenTelemetry.Extensions.Hosting >/dev/null
dotnet add package OpenTelemetry.Exporter.Console >/dev/null
dotnet add package OpenTelemetry.Exporter.Prometheus.AspNetCore --prerelease >/dev/null
block "$page" 'AddPrometheusExporter()' > Program.cs
dotnet build -nologo -v q >build.log 2>&1 || { grep -E "error|warn" build.log | head -20; fail "the app with OpenTelemetry does not build"; }
start_app otel.log dotnet run --no-build --urls http://127.0.0.1:0
"$mkio" send "$port" orders --op new '{"symbol":"IBM","qty":7}' | grep -q '^\[1/1\] ok ref=' || fail "send with telemetry"
metrics=$(fetch "http://127.0.0.1:$port/metrics") || fail "GET /metrics"
echo "$metrics" | grep -E '^mkio_writer_transactions_committed_total(\{[^}]*\})? [1-9]' >/dev/null \
  || { echo "$metrics" | grep mkio_ | head; fail "/metrics lacks a non-zero mkio_writer_transactions_committed_total"; }
for _ in $(seq 1 40); do grep -q 'mkio.batch' otel.log && break; sleep 0.5; done
grep -q 'DisplayName:.*mkio.transaction' otel.log || { tail -40 otel.log; fail "no mkio.transaction activity on the console"; }
grep -q 'DisplayName:.*mkio.batch' otel.log || { tail -40 otel.log; fail "no mkio.batch activity on the console"; }
echo "   /metrics and the console exporter show mkio's metrics and spans"
stop_app

echo "== publish and run from the output folder"
dotnet publish -c Release -o "$work/out" -nologo -v q >/dev/null || fail "dotnet publish"
cd "$work/out"
start_app "$work/published.log" dotnet Shop.dll --urls http://127.0.0.1:0
fetch "http://127.0.0.1:$port/health" | grep -q Healthy || fail "the published app is not Healthy"
"$mkio" send "$port" orders --op new '{"symbol":"SAP","qty":1}' | grep -q '^\[1/1\] ok ref=' || fail "send to the published app"
[ -f "$work/out/shop.db" ] || fail "the published app did not create shop.db next to Shop.dll"
stop_app
echo "getting-started check: OK"
