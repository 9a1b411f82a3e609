using System.Text.Json;
using Mkio.Browser.Tests.Support;
using Mkio.TestUtilities;

namespace Mkio.Browser.Tests;

/// <summary>
/// A later-generation Python client (an emulation, tests/python/mkio_client_later.py) against a config written the
/// later way (tests/later/later.mkio.toml): identify, send with txnid, paged subscribe, filter-out delete, reqrep,
/// nack, and a stream subscription that resumes after its ref across a server restart on the same port and file.
/// </summary>
public partial class PythonClientTests
{
    [Test, CancelAfter(180_000)]
    public async Task LaterClient_LaterConfig_EveryStep_AndResumeAfterRestart(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var toml = Path.Combine(Fixtures.RepoRoot, "tests", "later", "later.mkio.toml");
        var port = FixedPortHost.FreePort();
        var host = await FixedPortHost.StartAsync(port, dir, _ => { }, toml, ct);
        IReadOnlyDictionary<string, JsonElement> steps;
        try
        {
            await using var python = PythonProcess.StartScript("later_scenarios.py", host.WsUrl.ToString());
            var ready = await python.WaitForStepAsync("ready", ScenarioTimeout, ct);
            Assert.That(Str(ready, "cursor"), Is.Not.Null.And.Not.Empty, "a stream cursor before the restart\n" + python.Output);
            await host.DisposeAsync();
            host = await FixedPortHost.StartAsync(port, dir, _ => { }, toml, ct);
            steps = await python.WaitForObservationsAsync(ScenarioTimeout, ct);
            TestContext.Out.WriteLine(python.Output);
        }
        finally
        {
            await host.DisposeAsync();
        }

        var identify = steps["identify"];
        var send = steps["send"];
        var paged = steps["paged"];
        var filtered = steps["filtered"];
        var request = steps["request"];
        var nack = steps["nack"].GetProperty("nack");
        var resumed = steps["resumed"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That((Str(identify, "name"), Str(identify, "version")), Is.EqualTo(("later-shop", "1.4.2")));
            Assert.That(identify.GetProperty("compatible").GetBoolean(), Is.True);
            Assert.That(identify.GetProperty("incompatible").GetBoolean(), Is.False);
            Assert.That(identify.GetProperty("services").GetProperty("stock").GetString(), Is.EqualTo("reqrep"));

            Assert.That(send.GetProperty("types").EnumerateArray().Select(t => t.GetString()), Is.All.EqualTo("result"));
            Assert.That(send.GetProperty("txnids").EnumerateArray().Select(t => t.GetString()), Is.All.Match("^_mkio_t[0-9]+$"));
            Assert.That(send.GetProperty("keys").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "service", "data", "txnid" }));

            Assert.That(Keys(paged.GetProperty("subscribe")), Is.EqualTo("service,type,protocol,subid,filter,maxcount"));
            Assert.That(paged.GetProperty("pages").EnumerateArray().Select(p => p.GetArrayLength()), Is.EqualTo(new[] { 2, 2, 1 }));
            Assert.That(paged.GetProperty("getmores").GetInt32(), Is.EqualTo(2));

            Assert.That(filtered.GetProperty("snapshot").GetArrayLength(), Is.EqualTo(1));
            Assert.That(Str(filtered.GetProperty("update"), "op"), Is.EqualTo("delete"), "the row that left the filter");
            Assert.That(filtered.GetProperty("update").GetProperty("row").GetProperty("qty").GetInt32(), Is.EqualTo(1));

            Assert.That(request.GetProperty("value").GetProperty("value").GetInt32(), Is.EqualTo(6));
            Assert.That(Str(request.GetProperty("error"), "message"), Is.EqualTo("Service 'items' uses protocol 'query', not 'reqrep'"));
            Assert.That((Str(request.GetProperty("unknown"), "type"), Str(request.GetProperty("unknown"), "message")),
                Is.EqualTo(("nack", "Unknown service: 'nope'. Available services: cache, feed, items, log, put, stock")));

            Assert.That(Str(nack, "message"), Is.EqualTo("Protocol mismatch: service 'items' is 'query', not 'stream'"));
            Assert.That(steps["nack"].GetProperty("removed").GetBoolean(), Is.True);

            Assert.That(resumed.GetProperty("connects").GetInt32(), Is.EqualTo(2));
            Assert.That(Str(resumed.GetProperty("resubscribe"), "ref"), Is.EqualTo(Str(steps["ready"], "cursor")), "resubscribed after its last ref");
            Assert.That(Str(resumed.GetProperty("resubscribe"), "protocol"), Is.EqualTo("stream"));
            Assert.That(resumed.GetProperty("snapshot").GetProperty("rows").GetArrayLength(), Is.Zero, "nothing missed, nothing repeated");
            Assert.That(Str(resumed, "reply"), Is.EqualTo("result"));
        }
    }
}
