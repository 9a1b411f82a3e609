using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>CONFORMANCE items 49, 50, 63 and 70 (PROTOCOL.md §3.5, §6.3; SERVICES.md §4, §5.2).</summary>
[Parallelizable(ParallelScope.Children)]
public partial class TransactionErrorTests
{
    /// <summary>Fixture A plus a table whose optional middle column shifts parameter positions (F14).</summary>
    private static void Fixture(MkioOptions o)
    {
        TxTest.FixtureAOnFile(o);
        o.Table("notes", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("note", "TEXT")
                .Column("extra", "TEXT"))
            .Transaction("add_note", tx => tx.Insert("notes", ["id", "note", "extra"]))
            .Transaction("add_priced", tx => tx.Insert("orders", ["id", "symbol", "qty", "price"]));
    }

    [Test, CancelAfter(30_000)]
    public async Task Insert_MissingRequiredFields_MissingFieldForFirstAndNothingWritten(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"r49","data":{"id":"x"}}""",
            """{"service":"add_order","ref":"r49b","data":{"qty":1}}""",
            """{"service":"add_order","ref":"r49c"}""",
            """{"service":"add_order","ref":"r49d","data":{}}""",
            """{"service":"add_order","ref":"r49e","data":{"ID":"1","Symbol":"A"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'symbol'","ref":"r49"}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'id'","ref":"r49b"}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'id'","ref":"r49c"}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'id'","ref":"r49d"}"""));
            Assert.That(replies[4].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'id'","ref":"r49e"}"""));
            Assert.That(TxTest.Count(host, "orders"), Is.Zero);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Insert_MissingFieldWithoutRef_ErrorCarriesGeneratedRef(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"add_order","msgid":1,"data":{"id":"x"}}""", ct);
        var @ref = TxTest.Ref(reply);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(@ref, Does.Match(TxTest.RefFormat()));
            Assert.That(reply.GetRawText(), Is.EqualTo($$"""{"type":"error","message":"Missing field: 'symbol'","ref":"{{@ref}}","msgid":1}"""));
        }
    }

    [TestCase("null", "argument of type 'NoneType' is not iterable")]
    [TestCase("""["id","1"]""", "list indices must be integers or slices, not str")]
    [CancelAfter(30_000)]
    public async Task Insert_DataNotAnObject_ErrorReplyAndSocketKeepsWorking(string data, string message, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            $$$"""{"service":"add_order","ref":"r63","msgid":63,"data":{{{data}}}}""",
            """{"service":"add_order","ref":"ok","data":{"id":"1","symbol":"A","qty":1}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo($$"""{"type":"error","message":"{{message}}","ref":"r63","msgid":63}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"ok","ok":true}"""));
            Assert.That(TxTest.Count(host, "orders"), Is.EqualTo(1));
        }
    }

    [TestCase("\"text\"")]
    [TestCase("5")]
    [TestCase("2.5")]
    [TestCase("true")]
    [CancelAfter(30_000)]
    public async Task Insert_DataScalar_TypeErrorAndNothingWritten(string data, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync($$$"""{"service":"add_order","ref":"r63","data":{{{data}}}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "type", "message", "ref" }), reply.GetRawText());
            Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("error"));
            Assert.That(reply.GetProperty("message").GetString(), Is.Not.Empty);
            Assert.That(TxTest.Ref(reply), Is.EqualTo("r63"));
            Assert.That(TxTest.Count(host, "orders"), Is.Zero);
        }
    }

    /// <summary>The parameter number is the 1-based position in the statement actually run (F14 drops omitted fields).</summary>
    [TestCase("add_order", """{"id":"1","symbol":{"a":1},"qty":1}""", 2, "dict")]
    [TestCase("add_order", """{"id":"1","symbol":"A","qty":[1,2]}""", 3, "list")]
    [TestCase("add_order", """{"id":{},"symbol":"A","qty":1}""", 1, "dict")]
    [TestCase("add_order", """{"id":"1","symbol":"A","qty":1,"price":{"ignored":true}}""", 0, "")]
    [TestCase("update_order", """{"id":{"a":1},"qty":1}""", 3, "dict")]
    [TestCase("update_order", """{"id":"1","qty":[]}""", 1, "list")]
    [TestCase("delete_order", """{"id":["1"]}""", 1, "list")]
    [TestCase("add_note", """{"id":"1","extra":{"k":1}}""", 2, "dict")]
    [TestCase("add_note", """{"id":"1","note":"n","extra":[1]}""", 3, "list")]
    [TestCase("add_priced", """{"id":"1","symbol":"A","price":{"k":1}}""", 3, "dict")]
    [CancelAfter(30_000)]
    public async Task Transaction_ObjectOrArrayValue_ErrorBindingParameterN(string service, string data, int n, string type, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync($$$"""{"service":"{{{service}}}","ref":"b","data":{{{data}}}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            if (n == 0)
            {
                Assert.That(reply.GetRawText(), Is.EqualTo($$"""{"type":"result","service":"{{service}}","ref":"b","ok":true}"""), "keys of data that are not parameters are ignored");
            }
            else
            {
                Assert.That(reply.GetRawText(), Is.EqualTo($$"""{"type":"error","message":"Error binding parameter {{n}}: type '{{type}}' is not supported","ref":"b"}"""));
                Assert.That(TxTest.Count(host, "orders") + TxTest.Count(host, "notes"), Is.Zero);
            }
        }
    }

    [TestCase("9223372036854775808")]
    [TestCase("-9223372036854775809")]
    [TestCase("123456789012345678901234567890")]
    [CancelAfter(30_000)]
    public async Task Insert_IntegerBeyondInt64_PythonIntTooLarge(string value, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync($$$"""{"service":"add_order","ref":"big","data":{"id":"1","symbol":"A","qty":{{{value}}}}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"error","message":"Python int too large to convert to SQLite INTEGER","ref":"big"}"""));
            Assert.That(TxTest.Count(host, "orders"), Is.Zero);
        }
    }

    /// <summary>Fix F7: a non-string ref is rejected (no ref in the error) and nothing is executed.</summary>
    [TestCase("5")]
    [TestCase("5.5")]
    [TestCase("true")]
    [TestCase("false")]
    [TestCase("[\"r\"]")]
    [TestCase("{\"r\":1}")]
    [CancelAfter(30_000)]
    public async Task Insert_NonStringRef_InvalidRefErrorAndNotExecuted(string @ref, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            $$$"""{"service":"add_order","ref":{{{@ref}}},"msgid":"m70","data":{"id":"1","symbol":"A","qty":1}}""",
            $$$"""{"service":"add_order","ref":{{{@ref}}},"data":{"id":"2","symbol":"A","qty":1}}""",
            """{"service":"add_order","ref":"ok","data":{"id":"3","symbol":"A","qty":1}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Invalid 'ref' field: must be a string","msgid":"m70"}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"error","message":"Invalid 'ref' field: must be a string"}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"ok","ok":true}"""));
            Assert.That(TxTest.Column(host, "SELECT id FROM orders"), Is.EqualTo(new object[] { "3" }));
        }
    }
}
