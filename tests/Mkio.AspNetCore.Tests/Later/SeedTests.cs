using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>Table <c>seed</c> files: loaded when the table is created (CSV, JSON, JSONL), never again; errors stop start-up.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class SeedTests
{
    private static async Task<JsonElement> SnapshotAsync(MkioTestHost host, CancellationToken ct)
    {
        await using var ws = await host.ConnectAsync("ws", ct);
        return (await ws.RequestAsync("""{"type":"subscribe","service":"items"}""", ct)).GetProperty("rows");
    }

    [Test, CancelAfter(60_000)]
    public async Task Csv_LoadedOnCreationWithTypesAndDistinctAscendingRefs_NotOnLaterStarts(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var (host, _) = await LaterHost.StartAsync(ct, dir: dir);
        JsonElement first;
        await using (host)
        {
            first = (await SnapshotAsync(host, ct)).Clone();
            await using var ws = await host.ConnectAsync("ws", ct);
            await ws.RequestAsync("""{"service":"add_item","ref":"x","data":{"id":"Z9","name":"zest","price":1.0,"qty":1}}""", ct);
        }

        // The second start must not seed again: the row added meanwhile stays, nothing is duplicated.
        await File.WriteAllTextAsync(dir.File("items.csv"), LaterHost.Csv + "Y8,yam,1,1\n", ct);
        (host, _) = await LaterHost.StartAsync(ct, dir: dir);
        await using (host)
        {
            var second = await SnapshotAsync(host, ct);
            var refs = first.EnumerateArray().Select(r => r.GetProperty("_mkio_ref").GetString()!).ToList();
            using (Assert.EnterMultipleScope())
            {
                Assert.That(first.GetArrayLength(), Is.EqualTo(3));
                Assert.That(first[1].GetRawText(), Does.StartWith("""{"id":"B2","name":"bread, brown","price":2.25,"qty":3,"""));
                Assert.That(first[2].GetProperty("price").GetRawText(), Is.EqualTo("7.0"));
                Assert.That(refs, Is.Unique);
                Assert.That(refs, Is.Ordered.Using<string>(StringComparer.Ordinal));
                Assert.That(second.EnumerateArray().Select(r => r.GetProperty("id").GetString()), Is.EquivalentTo(new[] { "A1", "B2", "C3", "Z9" }));
            }
        }
    }

    [TestCase("items.json", """[{"id":"J1","name":"jam","price":2.5,"qty":true},{"id":"J2","name":"juice"}]""")]
    [TestCase("items.jsonl", "{\"id\":\"J1\",\"name\":\"jam\",\"price\":2.5,\"qty\":1}\n\n{\"id\":\"J2\",\"name\":\"juice\"}\n")]
    [CancelAfter(60_000)]
    public async Task JsonAndJsonl_Loaded(string file, string content, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File(file), content, ct);
        var (host, _) = await LaterHost.StartAsync(ct, LaterHost.Config.Replace("items.csv", file, StringComparison.Ordinal).Replace("later.db", ":memory:", StringComparison.Ordinal), dir: dir);
        await using (host)
        {
            var rows = await SnapshotAsync(host, ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(rows.EnumerateArray().Select(r => r.GetProperty("id").GetString()), Is.EqualTo(new[] { "J1", "J2" }));
                Assert.That(rows[0].GetProperty("qty").GetInt32(), Is.EqualTo(1));
                Assert.That(rows[1].GetProperty("qty").GetInt32(), Is.Zero);
            }
        }
    }

    [TestCase("items.csv", "id,name,colour\nA,a,red\n", "unknown column in")]
    [TestCase("items.csv", "id,name\nA,a\nA,b\n", "UNIQUE constraint failed: items.id")]
    [TestCase("items.json", """{"id":"A"}""", "expected a JSON array")]
    [TestCase("items.jsonl", "{\"id\":\"A\",\"name\":\"a\"}\n{oops\n", "line 2")]
    [TestCase("absent.csv", null, "seed file not found")]
    [CancelAfter(60_000)]
    public async Task BadSeed_StopsStartUp_AndTheNextStartSeedsAgain(string file, string? content, string expected, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        if (content is not null)
        {
            await File.WriteAllTextAsync(dir.File(file), content, ct);
        }

        var config = LaterHost.Config.Replace("items.csv", file, StringComparison.Ordinal);
        var ex = Assert.ThrowsAsync<MkioConfigurationException>(async () => await LaterHost.StartAsync(ct, config, dir: dir));
        if (expected == "UNIQUE constraint failed: items.id")
        {
            expected = StoreErrors.Unique("items", "id"); // the store's own wording of the duplicate key
        }

        Assert.That(ex!.Message, Does.Contain(expected).And.Contain("tables.items.seed"));

        var good = Path.GetExtension(file) switch
        {
            ".csv" => "id,name\nOK,fine\n",
            ".jsonl" => "{\"id\":\"OK\",\"name\":\"fine\"}\n",
            _ => """[{"id":"OK","name":"fine"}]""",
        };
        await File.WriteAllTextAsync(dir.File(file), good, ct);

        var (host, _) = await LaterHost.StartAsync(ct, config, dir: dir);
        await using (host)
        {
            var rows = await SnapshotAsync(host, ct);
            Assert.That(rows.EnumerateArray().Select(r => r.GetProperty("id").GetString()), Is.EqualTo(new[] { "OK" }));
        }
    }

    [Test]
    public void WrongExtension_ConfigError()
    {
        var o = new MkioOptions();
        TomlConfigLoader.ApplyText("[tables.t]\ncolumns = { id = \"TEXT\" }\nseed = \"t.txt\"\n", "mkio.toml", o);
        var (_, errors) = Mkio.Model.ModelCompiler.TryCompile(o);
        Assert.That(errors.Select(e => e.Message), Is.EqualTo(new[] { "seed file 't.txt' must be .csv, .json, or .jsonl" }));
    }
}
