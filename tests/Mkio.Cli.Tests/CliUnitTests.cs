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
}
