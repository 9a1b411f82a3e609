#!/usr/bin/env bash
# Follows docs/getting-started.md §3 ("Embed mkio in a new web app") on this machine, outside the
# repository: packs the packages, creates a new web app, adds Mkio.AspNetCore from the packed
# folder, writes the page's mkio.toml, Program.cs and csproj item (extracted from the page), runs
# it, drives it with the packed `mkio` tool, then connects a new console app through the packed
# Mkio.Client (send, check, filtered subscribe) as docs/dotnet-client.md shows.
# Usage: bash scripts/check-getting-started.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
app_pid=""
cleanup() { [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# A clean package cache, so nothing stale from an earlier pack of the same version is used.
export NUGET_PACKAGES="$work/nuget-cache"
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
page="$repo/docs/getting-started.md"

echo "== pack"
dotnet pack Mkio.sln -c Release -o "$work/mkio-packages" -nologo -v q >/dev/null
echo "== new web app from the packages"
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
dotnet run --no-build --urls http://127.0.0.1:0 >run.log 2>&1 &
app_pid=$!
port=""
for _ in $(seq 1 120); do
  port=$(sed -n 's/.*Now listening on: http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' run.log | head -1)
  [ -n "$port" ] && break
  kill -0 "$app_pid" 2>/dev/null || { cat run.log; fail "the app exited"; }
  sleep 0.5
done
[ -n "$port" ] || { cat run.log; fail "the app did not start listening"; }
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

kill -TERM "$app_pid"; rc=0; wait "$app_pid" || rc=$?; app_pid=""
[ "$rc" = 0 ] || fail "the app exited with $rc after SIGTERM"
echo "getting-started check: OK"
