using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Mkio.AspNetCore.Hosting;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Security;

/// <summary>The <c>mkio.auth.logins</c> counter, and passwords never reaching logs (any level) or monitors.</summary>
public sealed class LoginMetricsTests
{
    private static string Auth(string user, string password) =>
        JsonSerializer.Serialize(new { type = "auth", data = new { username = user, password } });

    [Test, CancelAfter(60_000)]
    public async Task Logins_CountedByResult_PasswordsInNoLogNorMonitor(CancellationToken ct)
    {
        await using var host = await AuthMessageTests.StartAsync(ct, services: s => s.AddFakeLogging(o => o.FilteredLevels.UnionWith([LogLevel.Trace, LogLevel.Debug, LogLevel.Information, LogLevel.Warning, LogLevel.Error, LogLevel.Critical])), options: o => o.FailedLoginDelayMs = 0);
        var meter = host.Services.GetRequiredService<MkioEngineHost>().Engine.Metrics.Meter;
        using var logins = new MetricCollector<long>(meter, "mkio.auth.logins");

        await using var root = await host.ConnectAsync(cancellationToken: ct);
        Assert.That((await root.RequestAsync(Auth("root", "root-pw"), ct)).GetProperty("ok").GetBoolean(), Is.True);
        Assert.That((await root.RequestAsync("""{"type":"monitor","service":"all_orders"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("monitor_ack"));

        await using var alice = await host.ConnectAsync(cancellationToken: ct);
        string[] wrong = ["Wr0ng-Secret-1", "Wr0ng-Secret-2", "Wr0ng-Secret-3"];
        foreach (var guess in wrong)
        {
            Assert.That((await alice.RequestAsync(Auth("alice", guess), ct)).GetProperty("message").GetString(), Is.EqualTo("invalid credentials"));
        }

        Assert.That((await alice.RequestAsync(Auth("alice", "alice-pw"), ct)).GetProperty("message").GetString(), Is.EqualTo("too many failed logins; try again later"));
        await using var bob = await host.ConnectAsync(cancellationToken: ct);
        Assert.That((await bob.RequestAsync(Auth("bob", "bob-pw"), ct)).GetProperty("ok").GetBoolean(), Is.True);
        var snapshot = await bob.RequestAsync("""{"type":"subscribe","service":"all_orders","ref":"s1"}""", ct);
        Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"));

        // The monitor saw bob's subscribe (and its snapshot) — never a login.
        var monitored = new List<string>();
        while (monitored.Count < 2)
        {
            monitored.Add((await root.ReceiveAsync(ct)).GetRawText());
        }

        await Eventually.WaitUntilAsync(() => logins.GetMeasurementSnapshot().Sum(m => m.Value) == 6, "six logins counted", ct);
        var byResult = logins.GetMeasurementSnapshot().GroupBy(m => (string)m.Tags["mkio.auth.result"]!).ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        var logText = string.Join('\n', host.Services.GetFakeLogCollector().GetSnapshot().Select(r => r.Message + " " + string.Join(',', r.StructuredState?.Select(kv => kv.Value) ?? [])));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(byResult, Is.EquivalentTo(new Dictionary<string, long> { ["success"] = 2, ["failure"] = 3, ["throttled"] = 1 }));
            Assert.That(monitored, Has.Some.Contains("\"s1\""), "the monitor works");
            Assert.That(logText, Does.Contain("Failed login").And.Contain("alice"), "failures are logged, with the user name");
            foreach (var secret in wrong.Append("alice-pw").Append("bob-pw").Append("root-pw"))
            {
                Assert.That(logText, Does.Not.Contain(secret), "logs");
                Assert.That(string.Join('\n', monitored), Does.Not.Contain(secret), "monitor");
            }
        }
    }
}
