using System.Net;
using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// Issue 9 as real <c>mkio serve</c> processes: one process owns a database file (item 1), 405 for a
/// wrong method on a known path (item 8), the start-up summary and a clickable URL (item 11).
/// </summary>
public partial class ServeCommandTests
{
    private const string Write1 = """{"service":"add_order","ref":"w1","data":{"id":"1","symbol":"A","qty":1}}""";
    private const string Write2 = """{"service":"add_order","ref":"w2","data":{"id":"2","symbol":"B","qty":2}}""";

    [Test, CancelAfter(180_000)]
    public async Task Serve_SecondProcessOnSameFile_Exits1NamingOwner_FirstKeepsWriting_KillNineReleases(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        WriteConfig(dir, Config);
        var db = dir.File("serve.db");
        var (first, port) = await ServeAsync(dir, ct);
        await using (first)
        {
            // Same file and even the same (taken) port: the ownership line, nothing else.
            await using var second = MkioProcess.Start(dir.Path, "serve", "cfg.toml", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var secondCode = await second.WaitForExitAsync(ct);
            await using var dbupdate = MkioProcess.Start(dir.Path, "dbupdate", "cfg.toml");
            var dbupdateCode = await dbupdate.WaitForExitAsync(ct);

            await using (var ws = await TestSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), ct))
            {
                var reply = await ws.RequestAsync(Write1, ct);
                var secondLines = second.StderrLines.Where(l => l.Length > 0).ToList();
                var owner = $"Database {db} is in use by another mkio process (pid {first.Id} on host {Environment.MachineName}, started ";
                using (Assert.EnterMultipleScope())
                {
                    Assert.That(secondCode, Is.EqualTo(1));
                    AssertNoStackTrace(second);
                    Assert.That(secondLines, Has.Count.EqualTo(1), second.Stderr);
                    Assert.That(secondLines.FirstOrDefault(), Does.StartWith(owner));
                    Assert.That(second.Stdout, Does.Not.Contain("Running on"));
                    Assert.That(dbupdateCode, Is.EqualTo(1), "dbupdate does not migrate a served database");
                    Assert.That(dbupdate.StderrLines.Where(l => l.Length > 0), Has.Exactly(1).StartsWith(owner));
                    Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True, "the owner still accepts writes");
                    Assert.That(first.Stdout, Does.Contain($"mkio: database {db} (created, journal position 0), 1 services"));
                    Assert.That(first.Stdout, Does.Contain($"mkio: open http://127.0.0.1:{port}/"));
                }
            }

            // A crash (kill -9) releases the lock with the process: a new server starts on the file.
            await first.KillAsync(ct);
        }

        var (third, port3) = await ServeAsync(dir, ct);
        await using (third)
        {
            await using var ws = await TestSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{port3}/ws"), ct);
            var check = await ws.RequestAsync("""{"service":"add_order","type":"check","ref":"w1"}""", ct);
            var write = await ws.RequestAsync(Write2, ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(check.GetProperty("ok").GetBoolean(), Is.True, "the acknowledged write survived the kill");
                Assert.That(write.GetProperty("ok").GetBoolean(), Is.True);
                Assert.That(third.Stdout, Does.Contain($"mkio: database {db} (opened, journal position 1), 1 services"));
            }
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task Serve_WrongMethodOnKnownPath_405_UnknownPath_404(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        WriteConfig(dir, Config);
        var (p, port) = await ServeAsync(dir, ct);
        await using (p)
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
            using var postList = await http.PostAsync(new Uri("api/services", UriKind.Relative), null, ct);
            using var deleteDetail = await http.DeleteAsync(new Uri("api/services/add_order", UriKind.Relative), ct);
            using var postScript = await http.PostAsync(new Uri("mkio.js", UriKind.Relative), null, ct);
            using var unknown = await http.GetAsync(new Uri("nope", UriKind.Relative), ct);
            var unknownBody = await unknown.Content.ReadAsStringAsync(ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(postList.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
                Assert.That(postList.Content.Headers.Allow, Is.EquivalentTo(new[] { "GET", "HEAD" }));
                Assert.That(deleteDetail.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
                Assert.That(postScript.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
                Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
                Assert.That(unknownBody, Is.EqualTo("404: Not Found"));
            }
        }
    }
}
