using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Security;

/// <summary>
/// The compact matrix: every access value (open, auth, a right, a policy, an SQL check) × every message type
/// (transaction, check, request, subscribe, monitor, <c>_mkio</c>; discovery for the host door) × both doors (a
/// host scheme's principal on the upgrade, the <c>auth</c> message), on one server.
/// </summary>
public sealed class AccessMatrixTests
{
    private const string Ok = "ok";
    private const string AuthRequired = "authentication required";
    private const string Denied = "permission denied";

    /// <summary>The access values: name → TOML value.</summary>
    private static readonly (string Name, string Toml)[] Values =
    [
        ("open", "\"open\""),
        ("auth", "\"auth\""),
        ("right", "\"trade\""),
        ("policy", "\"ops\""),
        ("sql", "{ trade = \"_mkio_users WHERE username = :user AND desk = 'A'\" }"),
    ];

    /// <summary>Identity → expected outcome per access value (in <see cref="Values"/> order).</summary>
    private static readonly (string Who, string?[] Expected)[] Identities =
    [
        ("anonymous", [Ok, AuthRequired, AuthRequired, AuthRequired, AuthRequired]),
        ("token:bob", [Ok, Ok, Denied, Denied, Denied]),                  // host door, no role
        ("token:carol:trader", [Ok, Ok, Ok, Denied, Denied]),             // host door, role trader (not in the users table)
        ("token:dave::ops", [Ok, Ok, Denied, Ok, Denied]),                // host door, policy ops
        ("login:eve:eve-pw", [Ok, Ok, Denied, Denied, Denied]),           // auth message, role viewer
        ("login:alice:alice-pw", [Ok, Ok, Ok, Denied, Ok]),               // auth message, role trader, desk A
    ];

    private static string Config()
    {
        var sb = new StringBuilder("""
            db_path = "matrix.db"
            batch_max_wait_ms = 1.0

            """ + AuthMessageTests.LoginTables + """
            [tables.items]
            columns = { id = "TEXT PRIMARY KEY", qty = "INTEGER" }

            """);
        foreach (var (name, toml) in Values)
        {
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $$"""

                [services.tx_{{name}}]
                type = "transaction"
                table = "items"
                op_type = "upsert"
                key = ["id"]
                fields = ["id", "qty"]
                access = {{toml}}

                [services.rr_{{name}}]
                protocol = "reqrep"
                reply = "'pong'"
                access = {{toml}}

                [services.q_{{name}}]
                type = "query"
                primary_table = "items"
                access = {{toml}}
                monitor_access = {{toml}}

                """);
        }

        return sb.ToString();
    }

    private static async Task<TestSocket> OpenAsync(MkioTestHost host, string who, CancellationToken ct)
    {
        var parts = who.Split(':', 2);
        var ws = await TestSocket.ConnectAsync(new Uri(host.WsBase, "ws"), ct, o =>
        {
            if (parts[0] == "token")
            {
                o.SetRequestHeader(TokenAuthHandler.Header, parts[1]);
            }
        });
        if (parts[0] == "login")
        {
            var (user, password) = (parts[1].Split(':')[0], parts[1].Split(':')[1]);
            var reply = await ws.RequestAsync(JsonSerializer.Serialize(new { type = "auth", data = new { username = user, password } }), ct);
            Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True, reply.GetRawText());
        }

        return ws;
    }

    /// <summary>Sends <paramref name="json"/> and reduces its reply (matched by <paramref name="isReply"/>) to ok or the refusal text.</summary>
    private static async Task<string?> OutcomeAsync(TestSocket ws, string json, Func<JsonElement, bool> isReply, CancellationToken ct)
    {
        await ws.SendAsync(json, cancellationToken: ct);
        var reply = await ws.ReceiveUntilAsync(isReply, ct);
        var type = reply.GetProperty("type").GetString();
        return type is "error" or "nack" ? reply.GetProperty("message").GetString() : Ok;
    }

    private static bool Has(JsonElement m, string key, string value) => m.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() == value;

    [Test, CancelAfter(120_000)]
    public async Task EveryAccessValue_EveryMessageType_BothDoors(CancellationToken ct)
    {
        await using var host = await AuthMessageTests.StartAsync(ct, config: Config(), services: s =>
        {
            s.AddAuthentication(TokenAuthHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, TokenAuthHandler>(TokenAuthHandler.SchemeName, null);
            s.AddAuthorization(o => o.AddPolicy("ops", p => p.RequireClaim("dept", "ops")));
        }, app: web =>
        {
            web.UseAuthentication();
            web.MapMkio();
        });
        using var http = host.CreateHttpClient();
        var failures = new List<string>();
        foreach (var (who, expected) in Identities)
        {
            for (var i = 0; i < Values.Length; i++)
            {
                var v = Values[i].Name;
                var want = expected[i];
                await using var ws = await OpenAsync(host, who, ct);
                var outcomes = new Dictionary<string, string?>
                {
                    ["_mkio"] = await OutcomeAsync(ws, """{"type":"request","service":"_mkio","reqid":"id"}""", m => Has(m, "reqid", "id"), ct),
                    ["transaction"] = await OutcomeAsync(ws, $$$"""{"service":"tx_{{{v}}}","txnid":"t1","data":{"id":"{{{who}}}","qty":1}}""", m => Has(m, "txnid", "t1"), ct),
                    ["check"] = await OutcomeAsync(ws, $$"""{"service":"tx_{{v}}","type":"check","ref":"c1"}""", m => Has(m, "ref", "c1"), ct),
                    ["request"] = await OutcomeAsync(ws, $$"""{"type":"request","service":"rr_{{v}}","reqid":"r1"}""", m => Has(m, "reqid", "r1"), ct),
                    ["subscribe"] = await OutcomeAsync(ws, $$"""{"type":"subscribe","service":"q_{{v}}","subid":"s1"}""", m => Has(m, "subid", "s1"), ct),
                    ["monitor"] = await OutcomeAsync(ws, $$"""{"type":"monitor","service":"q_{{v}}","ref":"m1"}""", m => Has(m, "type", "monitor_ack") || (Has(m, "type", "error") && Has(m, "ref", "m1")), ct),
                };
                if (who.StartsWith("token:", StringComparison.Ordinal) || who == "anonymous")
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/services/q_{v}");
                    if (who != "anonymous")
                    {
                        request.Headers.Add(TokenAuthHandler.Header, who["token:".Length..]);
                    }

                    var status = (await http.SendAsync(request, ct)).StatusCode;
                    // An SQL check depends on the request's values: discovery lists the service when the role holds the right.
                    var listed = (v == "sql" ? expected[Array.FindIndex(Values, x => x.Name == "right")] : want) == Ok;
                    var seen = status == HttpStatusCode.OK ? "listed" : status == HttpStatusCode.NotFound ? "hidden" : status.ToString();
                    if (seen != (listed ? "listed" : "hidden"))
                    {
                        failures.Add($"{who} × {v} × discovery: expected {(listed ? "listed" : "hidden")}, got {seen}");
                    }
                }

                foreach (var (message, got) in outcomes)
                {
                    var expect = message == "_mkio" ? Ok : want;
                    if (got != expect)
                    {
                        failures.Add($"{who} × {v} × {message}: expected {expect}, got {got}");
                    }
                }
            }
        }

        Assert.That(failures, Is.Empty);
    }
}
