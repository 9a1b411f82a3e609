namespace Mkio.Cli.Tests;

/// <summary>URL shorthand (CLI.md §2, appendix 0.1.39/0.1.40) and the CSV reader / cell conversion of <c>send</c> (§5.2).</summary>
public class CliUnitTests
{
    [TestCase("8080", "ws://localhost:8080/ws")]
    [TestCase("localhost:8080", "ws://localhost:8080/ws")]
    [TestCase("example.com:9000/", "ws://example.com:9000/ws")]
    [TestCase("http://localhost:8080", "ws://localhost:8080/ws")]
    [TestCase("http://localhost:8080/", "ws://localhost:8080/ws")]
    [TestCase("https://example.com", "wss://example.com/ws")]
    [TestCase("ws://h:1/ws", "ws://h:1/ws")]
    [TestCase("wss://h:1/ws/", "wss://h:1/ws")]
    [TestCase("http://ws", "ws://ws/ws")]
    [TestCase("http://h/app", "ws://h/app/ws")]
    public void WebSocketUrl(string input, string expected) => Assert.That(CliUrl.WebSocket(input), Is.EqualTo(expected));

    [TestCase("8080", "http://localhost:8080")]
    [TestCase("localhost:8080", "http://localhost:8080")]
    [TestCase("http://localhost:8080/", "http://localhost:8080")]
    [TestCase("https://example.com", "https://example.com")]
    [TestCase("ws://h:1/ws", "http://h:1")]
    [TestCase("wss://h/", "https://h")]
    [TestCase("http://ws", "http://ws")]
    public void HttpBase(string input, string expected) => Assert.That(CliUrl.HttpBase(input), Is.EqualTo(expected));

    [Test]
    public void Csv_QuotesEscapesEmbeddedNewlinesAndCrLf()
    {
        var rows = CsvReader.Parse("a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\r\n,,\n1,2");
        Assert.That(rows, Has.Count.EqualTo(4));
        Assert.That(rows[0], Is.EqualTo(new[] { "a", "b", "c" }));
        Assert.That(rows[1], Is.EqualTo(new[] { "x,1", "say \"hi\"", "two\nlines" }));
        Assert.That(rows[2], Is.EqualTo(new[] { "", "", "" }));
        Assert.That(rows[3], Is.EqualTo(new[] { "1", "2" }));
    }

    [Test]
    public void Csv_UnterminatedQuote_Throws() =>
        Assert.That(() => CsvReader.Parse("a\n\"open"), Throws.TypeOf<FormatException>());

    [TestCase("100", "100")]
    [TestCase("007", "7")]
    [TestCase(" -42 ", "-42")]
    [TestCase("1_000", "1000")]
    [TestCase("123456789012345678901234567890", "123456789012345678901234567890")]
    [TestCase("150.0", "150.0")]
    [TestCase("12.34", "12.34")]
    [TestCase("1e2", "100.0")]
    [TestCase(".5", "0.5")]
    [TestCase("nan", "NaN")]
    [TestCase("-inf", "-Infinity")]
    [TestCase("", "\"\"")]
    [TestCase("Buy", "\"Buy\"")]
    [TestCase("1__0", "\"1__0\"")]
    [TestCase("0x10", "\"0x10\"")]
    [TestCase("caf\u00e9", "\"caf\\u00e9\"")]
    public void CellConversion(string cell, string json) => Assert.That(SendData.CellJson(cell), Is.EqualTo(json));

    [Test]
    public void Csv_Structured_EnvelopeColumnsServiceDroppedOthersIgnored()
    {
        var m = SendData.FromCsv("service,op,msgid,ref,extra,data.id,data.qty\norders,new,7,,zz,1,150.0\norders,,,r2\n", "f.csv");
        Assert.That(m, Has.Count.EqualTo(2));
        Assert.That(m[0].PayloadText, Is.EqualTo("""{"id":1,"qty":150.0}"""));
        Assert.That(m[0].Op, Is.EqualTo("new"));
        Assert.That(m[0].Ref, Is.Null, "an empty ref cell is absent (CLI.md §8)");
        Assert.That(m[0].MsgId!.GetValue<string>(), Is.EqualTo("7"));

        // Missing cells are empty; empty envelope cells are absent.
        Assert.That(m[1].PayloadText, Is.EqualTo("""{"id":"","qty":""}"""));
        Assert.That(m[1].Op, Is.Null);
        Assert.That(m[1].MsgId, Is.Null);
        Assert.That(m[1].Ref, Is.EqualTo("r2"));
    }

    [Test]
    public void Csv_Flat_AllOtherColumnsArePayload()
    {
        var m = SendData.FromCsv("symbol,qty,price,op,service\nA,100,150.0,place,orders\n", "f.csv");
        Assert.That(m[0].PayloadText, Is.EqualTo("""{"symbol":"A","qty":100,"price":150.0}"""));
        Assert.That(m[0].Op, Is.EqualTo("place"));
    }

    [Test]
    public void Json_EnvelopeAndPlainObjects()
    {
        var m = SendData.FromJson("""[{"service":"x","op":"reject","msgid":"8","ref":"","data":{"id":3}},{"op":"a","qty":1},{"data":5}]""", "f.json");
        Assert.That(m[0].PayloadText, Is.EqualTo("""{"id":3}"""));
        Assert.That(m[0].Op, Is.EqualTo("reject"));
        Assert.That(m[0].Ref, Is.Null);
        Assert.That(m[0].MsgId!.GetValue<string>(), Is.EqualTo("8"));
        Assert.That(m[1].PayloadText, Is.EqualTo("""{"op":"a","qty":1}"""), "op inside a plain object is data");
        Assert.That(m[1].Op, Is.Null);
        Assert.That(m[2].PayloadText, Is.EqualTo("""{"data":5}"""), "data that is not an object: the whole object is the payload");
    }

    [Test]
    public void Json_Invalid_Throws() =>
        Assert.That(() => SendData.FromJson("{bad", null), Throws.TypeOf<SendDataException>().With.Message.StartsWith("invalid JSON data"));

    // ------------------------------------------------------------------ NaN / Infinity (Python's json module extension)

    [Test]
    public void Json_NonFiniteTokens_AreValuesAtTopOfObjectsInArraysAndNested()
    {
        const string text = """[{"a": NaN, "b": Infinity, "c": -Infinity}, {"d": [NaN,Infinity,-Infinity, 1, "x"], "e": {"f": {"g": -Infinity}}},{"h":[[NaN]]}]""";
        var m = SendData.FromJson(text, "f.json");
        Assert.That(m, Has.Count.EqualTo(3));
        Assert.That(m.Select(x => x.Error), Has.All.Null);
        Assert.That(m[0].PayloadText, Is.EqualTo("""{"a": NaN, "b": Infinity, "c": -Infinity}"""), "bare tokens, the rest of the text as it was");
        Assert.That(m[1].PayloadText, Is.EqualTo("""{"d": [NaN,Infinity,-Infinity, 1, "x"], "e": {"f": {"g": -Infinity}}}"""));
        Assert.That(m[2].PayloadText, Is.EqualTo("""{"h":[[NaN]]}"""));
    }

    [TestCase("NaN", "nan")]
    [TestCase("Infinity", "inf")]
    [TestCase("-Infinity", "-inf")]
    public void Json_NonFiniteToken_IsSentAsTheCsvFloatOfTheSameValue(string token, string csvCell)
    {
        // Python: json.loads("NaN") == float("nan"); json.dumps writes the float back as the bare token — the CSV path's wire form.
        var json = SendData.FromJson($$"""{"price":{{token}}}""", "f.json").Single();
        var csv = SendData.FromCsv($"price\n{csvCell}\n", "f.csv").Single();
        Assert.That(json.PayloadText, Is.EqualTo(csv.PayloadText));
        Assert.That(json.PayloadText, Is.EqualTo($$"""{"price":{{token}}}"""));
    }

    [Test]
    public void Json_NonFiniteTokensInsideStringsAndKeys_StayText()
    {
        const string text = """{"s": "NaN", "t": "Infinity -Infinity", "NaN": "x\"NaN\\", "u": "\u004eaN", "v": NaN}""";
        var m = SendData.FromJson(text, "f.json").Single();
        Assert.That(m.PayloadText, Is.EqualTo(text));
        using var doc = System.Text.Json.JsonDocument.Parse(m.PayloadText.Replace(", \"v\": NaN", string.Empty, StringComparison.Ordinal));
        Assert.That(doc.RootElement.GetProperty("s").GetString(), Is.EqualTo("NaN"), "a string \"NaN\" stays a string");
        Assert.That(doc.RootElement.GetProperty("t").GetString(), Is.EqualTo("Infinity -Infinity"));
        Assert.That(doc.RootElement.GetProperty("NaN").GetString(), Is.EqualTo("x\"NaN\\"));
    }

    [Test]
    public void Json_NonFiniteTokens_InEnvelopeDataAndMsgId()
    {
        var m = SendData.FromJson("""{"op": "new", "msgid": [1, Infinity], "data": {"price": -Infinity, "note": "NaN"}}""", "f.json").Single();
        Assert.That(m.PayloadText, Is.EqualTo("""{"price": -Infinity, "note": "NaN"}"""));
        Assert.That(m.Op, Is.EqualTo("new"));
        Assert.That(m.MsgId!.ToJsonString(), Is.EqualTo("[1,Infinity]"), "the msgid is sent in compact form, the token bare");
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            m.MsgId.WriteTo(w); // as the client writes it into the message
        }

        Assert.That(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan), Is.EqualTo("[1,Infinity]"));

        // Envelope op/ref that are not strings are sent as their JSON text, as for any other number.
        var e = SendData.FromJson("""{"op": Infinity, "ref": NaN, "data": {}}""", "f.json").Single();
        Assert.That((e.Op, e.Ref, e.PayloadText), Is.EqualTo(("Infinity", "NaN", "{}")));

        // A data value that is not an object: the whole object is the payload, tokens included.
        Assert.That(SendData.FromJson("""{"data": NaN}""", "f.json").Single().PayloadText, Is.EqualTo("""{"data": NaN}"""));
    }

    [Test]
    public void Json_NonFiniteTokens_InlineDataAsWell() =>
        Assert.That(SendData.FromJson("""{"qty": 1, "price": NaN}""", null).Single().PayloadText, Is.EqualTo("""{"qty": 1, "price": NaN}"""));

    [Test]
    public void Json_TopLevelNonFiniteOrNonObjectItem_IsNotAMessage()
    {
        Assert.That(() => SendData.FromJson("NaN", "f.json"), Throws.TypeOf<SendDataException>().With.Message.EqualTo("f.json must be a JSON object or an array of objects"));
        var m = SendData.FromJson("""[Infinity, {"a": 1}]""", "f.json");
        Assert.That(m[0].Error, Is.EqualTo("item 1 is not a JSON object"));
        Assert.That(m[1].PayloadText, Is.EqualTo("""{"a": 1}"""));
    }

    // Spellings and places Python's json module rejects too: each is an error naming the file and the position.
    [TestCase("""{"price": nan}""")]
    [TestCase("""{"price": NAN}""")]
    [TestCase("""{"price": inf}""")]
    [TestCase("""{"price": infinity}""")]
    [TestCase("""{"price": +Infinity}""")]
    [TestCase("""{"price": -NaN}""")]
    [TestCase("""{"price": - Infinity}""")]
    [TestCase("""{"price": NaNa}""")]
    [TestCase("""{"price": Infinit}""")]
    [TestCase("""{NaN: 1}""")]
    [TestCase("""{"a": 1, NaN: 1}""")]
    [TestCase("""{"a" NaN}""")]
    [TestCase("""[1 NaN]""")]
    [TestCase("""{"a": NaN NaN}""")]
    public void Json_NonFiniteTokenWherePythonRejectsIt_IsAnError(string text) =>
        Assert.That(() => SendData.FromJson(text, "bad.json"), Throws.TypeOf<SendDataException>()
            .With.Message.StartsWith("invalid JSON in bad.json: ").And.Message.Contains("LineNumber: 0 | BytePositionInLine: "));

    // A syntax error after replaced tokens is reported at its position in the file: the same message as for the same file with
    // values of the same length in place of the tokens.
    [TestCase("{\"a\": NaN, \"b\": x}", "{\"a\": 1.5, \"b\": x}")]
    [TestCase("[{\"a\": [Infinity, -Infinity, NaN]}, {\"b\": 1,}]", "[{\"a\": [12345678, -12345678, 1.5]}, {\"b\": 1,}]")]
    [TestCase("{\"a\": NaN, \"b\": -Infinity,\n \"c\": Infinity, \"d\": \"\u00e9\", \"e\": Infinity NaN}", "{\"a\": 1.5, \"b\": -12345678,\n \"c\": 12345678, \"d\": \"\u00e9\", \"e\": 12345678 NaN}")]
    [TestCase("{\"a\": NaN,\n\"b\": x}", "{\"a\": 1.5,\n\"b\": x}")]
    [TestCase("{\"a\": NaN", "{\"a\": \"x\"")]
    public void Json_MalformedAfterNonFiniteTokens_ErrorAtTheFilePosition(string text, string sameLengthNumbers)
    {
        var expected = Assert.Throws<SendDataException>(() => SendData.FromJson(sameLengthNumbers, "bad.json"))!.Message;
        Assert.That(() => SendData.FromJson(text, "bad.json"), Throws.TypeOf<SendDataException>().With.Message.EqualTo(expected));
        Assert.That(expected, Does.StartWith("invalid JSON in bad.json: ").And.Contains("BytePositionInLine: "));
    }
}
