using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>The tests of <see cref="OptionalFieldTests"/> that only apply to SQLite (left out of the PostgreSQL conformance run, tests/Mkio.Postgres.Tests).</summary>
public partial class OptionalFieldTests
{
    /// <summary>F16: a non-key TEXT primary key without default is required; an INTEGER primary key is not.</summary>
    [Test, CancelAfter(30_000)]
    // An explicit id does not advance a PostgreSQL identity sequence (documented), so the next generated id differs.
    [Category(StoreCategories.SqliteOnly)]
    public async Task Insert_PrimaryKeyField_TextRequiredIntegerOptional(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_t16","ref":"a","data":{"name":"x"}}""",
            """{"service":"add_t16i","ref":"b","data":{"name":"y"}}""",
            """{"service":"add_t16i","ref":"c","data":{"id":10,"name":"z"}}""",
            """{"service":"add_t16i","ref":"d","data":{"name":"w"}}""",
        ], ct);

        using var http = host.CreateHttpClient();
        using var t16 = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/services/add_t16", UriKind.Relative), ct));
        using var t16i = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/services/add_t16i", UriKind.Relative), ct));
        var codeField = t16.RootElement.GetProperty("ops").GetProperty("default").GetProperty("steps")[0].GetProperty("fields").GetProperty("code");
        var idField = t16i.RootElement.GetProperty("ops").GetProperty("default").GetProperty("steps")[0].GetProperty("fields").GetProperty("id");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'code'","ref":"a"}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"add_t16i","ref":"b","ok":true}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"result","service":"add_t16i","ref":"c","ok":true}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"result","service":"add_t16i","ref":"d","ok":true}"""));
            Assert.That(TxTest.Count(host, "t16"), Is.Zero);
            Assert.That(TxTest.Query(host, "SELECT id, name FROM t16i ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { 1L, "y" },
                new object?[] { 10L, "z" },
                new object?[] { 11L, "w" },
            }));
            Assert.That(codeField.EnumerateObject().Select(p => $"{p.Name}={p.Value.GetRawText()}"), Is.EqualTo(new[] { "type=\"TEXT\"", "required=true" }));
            Assert.That(idField.EnumerateObject().Select(p => $"{p.Name}={p.Value.GetRawText()}"), Is.EqualTo(new[] { "type=\"INTEGER\"", "required=false" }));
        }
    }
}
