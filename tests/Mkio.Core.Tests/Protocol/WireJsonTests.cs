using System.Buffers;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Mkio.Data;
using Mkio.Protocol;

namespace Mkio.Core.Tests.Protocol;

/// <summary>
/// Expected strings were produced by CPython 3.11 <c>json.dumps</c> (compact separators where noted) and
/// are kept as literals.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class WireJsonTests
{
    // ------------------------------------------------------------------ strings

    [TestCase("Ünï", """
        "\u00dcn\u00ef"
        """)]
    [TestCase("a—b", """
        "a\u2014b"
        """)]
    [TestCase("😀", """
        "\ud83d\ude00"
        """)]
    [TestCase("<>&'+/`", """
        "<>&'+/`"
        """)]
    [TestCase("\u007f", """
        "\u007f"
        """)]
    [TestCase("a\"b\\c", """
        "a\"b\\c"
        """)]
    [TestCase("\n\r\t\b\f", """
        "\n\r\t\b\f"
        """)]
    [TestCase("plain ascii 123", """
        "plain ascii 123"
        """)]
    [TestCase("", """
        ""
        """)]
    public void WriteString_PythonEnsureAscii_MatchesJsonDumps(string value, string expected)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Direct(w => WireJson.WriteString(w, value)), Is.EqualTo(expected));
            Assert.That(Serialized(w => WireJson.WriteString(w, value)), Is.EqualTo(expected));
        }
    }

    [Test]
    public void WriteString_ControlQuotesAndNonAscii_MatchesJsonDumps()
    {
        // Kept out of [TestCase]: control characters in a test name break `dotnet test --filter`.
        const string value = "a\"b\\c\n\r\t\b\f\u0000\u0001\u000b\u001a\u001f\u007f<>&'+`/Ü—😀\u2028\ufeff\ud800x";
        const string expected = """
            "a\"b\\c\n\r\t\b\f\u0000\u0001\u000b\u001a\u001f\u007f<>&'+`/\u00dc\u2014\ud83d\ude00\u2028\ufeff\ud800x"
            """;

        Assert.That(Direct(w => WireJson.WriteString(w, value)), Is.EqualTo(expected));
    }

    [Test]
    public void WriteString_LoneSurrogates_EscapedAsIsLikePython()
    {
        // Kept out of [TestCase]: attribute strings cannot carry lone surrogates.
        const string value = "\ud800x\udc00";

        Assert.That(Direct(w => WireJson.WriteString(w, value)), Is.EqualTo("""
            "\ud800x\udc00"
            """));
    }

    [Test]
    public void WriteString_WriterWithDefaultEncoder_StillPythonExact()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            WireJson.WriteString(writer, "it's <b> & +1");
            WireJson.WriteString(writer, "safe");
            writer.WriteEndArray();
        }

        Assert.That(Encoding.UTF8.GetString(buffer.WrittenSpan), Is.EqualTo("""["it's <b> & +1","safe"]"""));
    }

    [Test]
    public void WriteString_LongNonAsciiText_UsesPooledBufferAndEscapesAll()
    {
        var value = new string('é', 1000) + "<end>";
        var expected = "\"" + string.Concat(Enumerable.Repeat("\\u00e9", 1000)) + "<end>\"";

        Assert.That(Direct(w => WireJson.WriteString(w, value)), Is.EqualTo(expected));
    }

    [Test]
    public void WriteString_Null_WritesNull()
    {
        Assert.That(Direct(w => WireJson.WriteString(w, (string?)null)), Is.EqualTo("null"));
    }

    [Test]
    public void WritePropertyString_EncodedAndUtf8Names_WritesPythonEscapedValues()
    {
        var message = JsonEncodedText.Encode("message");
        var json = Serialized(w =>
        {
            w.WriteStartObject();
            WireJson.WritePropertyString(w, "type"u8, "error");
            WireJson.WritePropertyString(w, message, "Unknown service: 'caf\u00e9'");
            WireJson.WritePropertyString(w, "ref"u8, null);
            WireJson.WritePropertyString(w, message, "<ok>");
            w.WriteEndObject();
        });

        Assert.That(json, Is.EqualTo("""{"type":"error","message":"Unknown service: 'caf\u00e9'","ref":null,"message":"<ok>"}"""));
    }

    [Test]
    public void WritePropertyName_NameWithApostropheAndQuote_MatchesJsonDumps()
    {
        var json = Direct(w =>
        {
            w.WriteStartObject();
            WireJson.WritePropertyName(w, "it's \"x\" <y>");
            w.WriteNumberValue(1);
            w.WriteEndObject();
        });

        Assert.That(json, Is.EqualTo("""{"it's \"x\" <y>":1}"""));
    }

    // ------------------------------------------------------------------ floats

    [TestCase(0.0, "0.0")]
    [TestCase(-0.0, "-0.0")]
    [TestCase(150.0, "150.0")]
    [TestCase(2.5, "2.5")]
    [TestCase(0.1, "0.1")]
    [TestCase(-2.5, "-2.5")]
    [TestCase(1e16, "1e+16")]
    [TestCase(1e15, "1000000000000000.0")]
    [TestCase(1234567890123456.0, "1234567890123456.0")]
    [TestCase(123456789012345.0, "123456789012345.0")]
    [TestCase(123456789012345678.0, "1.2345678901234568e+17")]
    [TestCase(1.5e-07, "1.5e-07")]
    [TestCase(-1.5e-07, "-1.5e-07")]
    [TestCase(1e-05, "1e-05")]
    [TestCase(0.0001, "0.0001")]
    [TestCase(0.00012345, "0.00012345")]
    [TestCase(1e+300, "1e+300")]
    [TestCase(1e22, "1e+22")]
    [TestCase(-2.5e-10, "-2.5e-10")]
    [TestCase(5e-324, "5e-324")]
    [TestCase(double.MaxValue, "1.7976931348623157e+308")]
    [TestCase(double.MinValue, "-1.7976931348623157e+308")]
    [TestCase(12345.678, "12345.678")]
    [TestCase(100.0, "100.0")]
    [TestCase(0.30000000000000004, "0.30000000000000004")]
    [TestCase(1.0 / 3.0, "0.3333333333333333")]
    [TestCase(double.NaN, "NaN")]
    [TestCase(double.PositiveInfinity, "Infinity")]
    [TestCase(double.NegativeInfinity, "-Infinity")]
    public void WriteDouble_Value_MatchesPythonRepr(double value, string expected)
    {
        Assert.That(Direct(w => WireJson.WriteDouble(w, value)), Is.EqualTo(expected));
    }

    [TestCase(0x540B710A3FB9333CUL, "7.326852754516092e+96")]
    [TestCase(0x3AF08A70A1DFC528UL, "8.551383418471491e-25")]
    [TestCase(0x249EB0FA03C3146BUL, "2.702448410243404e-132")]
    [TestCase(0x58106A07285D2389UL, "1.616878239293682e+116")]
    [TestCase(0x15FB68697D9A3EF4UL, "8.74174337334456e-203")]
    [TestCase(0x33027F807C228CCEUL, "5.62078488075843e-63")]
    [TestCase(0x2089A1FD0BC76011UL, "6.117693227024458e-152")]
    [TestCase(0x2330E7C8E367B8AEUL, "3.5490138633659875e-139")]
    [TestCase(0x0EE14A403D8E7686UL, "5.310427544909714e-237")]
    [TestCase(0x5331F3525A7FAF2CUL, "5.850522257680846e+92")]
    [TestCase(0x1EC0A9946D763F07UL, "1.4814616893018918e-160")]
    [TestCase(0x0BE168EAA87F8C74UL, "1.8997137872182034e-251")]
    [TestCase(0x43FBEEB2B908059CUL, "3.2203881460071514e+19")]
    [TestCase(0x5CE6CEF2357361F7UL, "3.3951777239792067e+139")]
    [TestCase(0x680129A7CF429014UL, "9.787984541856569e+192")]
    [TestCase(0x535A7F9A5346B86BUL, "3.454610755095566e+93")]
    [TestCase(0x1E4631D5EA274F13UL, "7.708343385168107e-163")]
    [TestCase(0x2182525BF2366977UL, "2.8657497539743507e-147")]
    [TestCase(0x53744E6437512505UL, "1.0589310441565859e+94")]
    [TestCase(0x762D8953BA8BC5C6UL, "1.8165372860865445e+261")]
    [TestCase(0x4B38496A2D678623UL, "2.3262110322840767e+54")]
    [TestCase(0x6ADDB3C0956CA46BUL, "5.9599832228859086e+206")]
    [TestCase(0x41933E4C15394006UL, "80712453.30590829")]
    [TestCase(0x2CA3FDEC34281D65UL, "1.1980228776626255e-93")]
    [TestCase(0x3FC2492492492492UL, "0.14285714285714285")]
    [TestCase(0x3FE5555555555555UL, "0.6666666666666666")]
    [TestCase(0x3F33A92A30553262UL, "0.00030000000000000003")]
    [TestCase(0x4340000000000000UL, "9007199254740992.0")]
    [TestCase(0x4011666666666666UL, "4.35")]
    [TestCase(0x405B800000000001UL, "110.00000000000001")]
    [TestCase(0x3E7AD7F29ABCAF48UL, "1e-07")]
    [TestCase(0x3C36B082C2148B8EUL, "1.23e-18")]
    [TestCase(0x3F0A36E2EB1C432DUL, "5e-05")]
    [TestCase(0x3F201F31F46ED246UL, "0.000123")]
    [TestCase(0x4341C37937E07FFFUL, "9999999999999998.0")]
    [TestCase(0x43E0000000000000UL, "9.223372036854776e+18")]
    [TestCase(0xC3E0000000000000UL, "-9.223372036854776e+18")]
    [TestCase(0x4340E0198EAEE000UL, "9500000000000000.0")]
    [TestCase(0x434550F7DCA70000UL, "1.2e+16")]
    [TestCase(0x01C0D4C9C2C71122UL, "3.14159e-300")]
    [TestCase(0x0010000000000000UL, "2.2250738585072014e-308")]
    [TestCase(0x0000000000000003UL, "1.5e-323")]
    public void WriteDouble_BitPattern_MatchesPythonRepr(ulong bits, string expected)
    {
        var value = BitConverter.UInt64BitsToDouble(bits);
        Assert.That(Direct(w => WireJson.WriteDouble(w, value)), Is.EqualTo(expected));
    }

    // ------------------------------------------------------------------ integers and other values

    [Test]
    public void WriteValue_Integers_WrittenAsPlainDigits()
    {
        var values = new object?[]
        {
            long.MinValue, long.MaxValue, 0L, -1, (short)7, (byte)255, (sbyte)-8, (ushort)9, 10u, ulong.MaxValue,
            BigInteger.Pow(2, 70), -BigInteger.Pow(2, 70), new BigInteger(42),
        };

        Assert.That(
            Direct(w => WireJson.WriteValue(w, values)),
            Is.EqualTo("[-9223372036854775808,9223372036854775807,0,-1,7,255,-8,9,10,18446744073709551615," +
                       "1180591620717411303424,-1180591620717411303424,42]"));
    }

    [Test]
    public void WriteValue_OtherScalars_MatchPythonForms()
    {
        var values = new object?[] { null, true, false, 2.5f, 1.5m, 150.0, 'é', new byte[] { 1, 2, 3, 0xfb, 0xff } };

        Assert.That(Direct(w => WireJson.WriteValue(w, values)), Is.EqualTo("""[null,true,false,2.5,1.5,150.0,"\u00e9","AQID+/8="]"""));
    }

    [Test]
    public void WriteValue_ListsArraysAndDictionaries_WrittenRecursively()
    {
        var value = new Dictionary<string, object?>
        {
            ["list"] = new List<object?> { 1L, "x", null, new object?[] { 2.0 } },
            ["longs"] = new long[] { 1, 2 },
            ["strings"] = new[] { "a", "b" },
            ["empty"] = Array.Empty<object?>(),
        };

        Assert.That(
            Direct(w => WireJson.WriteValue(w, value)),
            Is.EqualTo("""{"list":[1,"x",null,[2.0]],"longs":[1,2],"strings":["a","b"],"empty":[]}"""));
    }

    [Test]
    public void WriteValue_UnsupportedType_ThrowsLikePython()
    {
        Assert.That(
            () => Direct(w => WireJson.WriteValue(w, Guid.Empty)),
            Throws.InstanceOf<NotSupportedException>().With.Message.EqualTo("Object of type Guid is not JSON serializable"));
    }

    // ------------------------------------------------------------------ rows

    [Test]
    public void WriteRow_MixedValues_ObjectInColumnOrder()
    {
        var schema = new RowSchema(["id", "qty", "price", "note", "flag", "big", "tags", "blob", "missing", "zero"]);
        var row = new Row(schema,
        [
            "s1", 3L, 150.0, "Ünï — ok", true, BigInteger.Pow(2, 70), new List<object?> { 1L, 2.5, "x", null },
            new byte[] { 1, 2, 3 }, null, 0L,
        ]);

        Assert.That(
            Serialized(w => WireJson.WriteRow(w, row)),
            Is.EqualTo("""{"id":"s1","qty":3,"price":150.0,"note":"\u00dcn\u00ef \u2014 ok","flag":true,"big":1180591620717411303424,"tags":[1,2.5,"x",null],"blob":"AQID","missing":null,"zero":0}"""));
    }

    [Test]
    public void WriteRow_SchemasInterleaved_EachUsesItsOwnNames()
    {
        var a = new RowSchema(["x", "y"]);
        var b = new RowSchema(["p", "q", "r"]);
        var json = Serialized(w =>
        {
            w.WriteStartArray();
            WireJson.WriteRow(w, new Row(a, [1L, 2L]));
            WireJson.WriteRow(w, new Row(b, ["a", "b", "c"]));
            WireJson.WriteRow(w, new Row(a, [3L, 4L]));
            WireJson.WriteValue(w, new Row(b, [null, null, null]));
            w.WriteEndArray();
        });

        Assert.That(json, Is.EqualTo("""[{"x":1,"y":2},{"p":"a","q":"b","r":"c"},{"x":3,"y":4},{"p":null,"q":null,"r":null}]"""));
    }

    [Test]
    public void WriteRow_RepeatedColumnName_OneKeyAtFirstPositionWithLastValue()
    {
        var row = new Row(new RowSchema(["a", "b", "a"]), [1L, 2L, 3L]);

        Assert.That(Serialized(w => WireJson.WriteRow(w, row)), Is.EqualTo("""{"a":3,"b":2}"""));
    }

    [Test]
    public void WriteRow_NonAsciiColumnNames_ExactThroughSerializeAndValidDirect()
    {
        var row = new Row(new RowSchema(["prix€", "a<é>", "plain"]), [1L, 2L, 3L]);
        const string expected = """{"prix\u20ac":1,"a<\u00e9>":2,"plain":3}""";

        var direct = Direct(w => WireJson.WriteRow(w, row));
        using var parsed = JsonDocument.Parse(direct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Serialized(w => WireJson.WriteRow(w, row)), Is.EqualTo(expected));
            Assert.That(WireJson.ToCompact(Encoding.UTF8.GetBytes(direct)), Is.EqualTo(Encoding.UTF8.GetBytes(expected)));
            Assert.That(parsed.RootElement.GetProperty("a<é>").GetInt32(), Is.EqualTo(2));
        }
    }

    [Test]
    public void WriteRow_WarmWriter_AllocatesNothing()
    {
        var row = new Row(
            new RowSchema(["id", "qty", "price", "note", "flag", "missing"]),
            ["s1", 3L, 150.25, "caf\u00e9 <b>", true, null]);
        var buffer = new ArrayBufferWriter<byte>(4096);
        using var writer = WireJson.CreateWriter(buffer);
        for (var i = 0; i < 3; i++)
        {
            WireJson.WriteRow(writer, row);
            writer.Flush();
            writer.Reset();
            buffer.ResetWrittenCount();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        WireJson.WriteRow(writer, row);
        writer.Flush();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(allocated, Is.Zero);
            Assert.That(
                Encoding.UTF8.GetString(buffer.WrittenSpan),
                Is.EqualTo("""{"id":"s1","qty":3,"price":150.25,"note":"caf\u00e9 <b>","flag":true,"missing":null}"""));
        }
    }

    // ------------------------------------------------------------------ JsonElement

    [Test]
    public void WriteElement_ParsedMessage_KeepsNumberTextAndReescapesStrings()
    {
        const string input = """
            { "n": 150.0, "e": 1e2, "E": 1.5E-7, "i": -0, "big": 123456789012345678901234567890,
              "s": "\u00DCber \/ caf\u00e9 ü \"q\"", "k\u00e9y": [true, false, null, {}, []], "<x>": "it's" }
            """;
        using var document = JsonDocument.Parse(input);

        Assert.That(
            Serialized(w => WireJson.WriteValue(w, document.RootElement)),
            Is.EqualTo("""{"n":150.0,"e":1e2,"E":1.5E-7,"i":-0,"big":123456789012345678901234567890,"s":"\u00dcber / caf\u00e9 \u00fc \"q\"","k\u00e9y":[true,false,null,{},[]],"<x>":"it's"}"""));
    }

    [Test]
    public void WriteElement_LongEscapedString_UsesPooledBuffer()
    {
        var text = new string('ü', 400);
        using var document = JsonDocument.Parse("[\"" + text + "\"]");
        var expected = "[\"" + string.Concat(Enumerable.Repeat("\\u00fc", 400)) + "\"]";

        Assert.That(Direct(w => WireJson.WriteElement(w, document.RootElement)), Is.EqualTo(expected));
    }

    [Test]
    public void WriteElement_Undefined_Throws()
    {
        Assert.That(() => Direct(w => WireJson.WriteElement(w, default)), Throws.ArgumentException);
    }

    // ------------------------------------------------------------------ Serialize

    [Test]
    public void Serialize_TwoCalls_ReturnIndependentExactArrays()
    {
        var first = WireJson.Serialize(w => WireJson.WriteValue(w, new object?[] { 1L, "a" }));
        var second = WireJson.Serialize(w => WireJson.WriteValue(w, "b"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Encoding.UTF8.GetString(first), Is.EqualTo("""[1,"a"]"""));
            Assert.That(Encoding.UTF8.GetString(second), Is.EqualTo("\"b\""));
            Assert.That(second, Is.Not.SameAs(first));
        }
    }

    [Test]
    public void Serialize_WithState_PassesStateToStaticCallback()
    {
        var bytes = WireJson.Serialize("orders", static (w, service) =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "result");
            WireJson.WritePropertyString(w, "service"u8, service);
            w.WriteBoolean("ok"u8, true);
            w.WriteEndObject();
        });

        Assert.That(Encoding.UTF8.GetString(bytes), Is.EqualTo("""{"type":"result","service":"orders","ok":true}"""));
    }

    [Test]
    public void Serialize_WarmThread_AllocatesOnlyTheResultArray()
    {
        var row = new Row(new RowSchema(["id", "note"]), ["s1", "\u00fcber"]);
        Action<Utf8JsonWriter, Row> write = static (w, r) => WireJson.WriteRow(w, r);
        for (var i = 0; i < 3; i++)
        {
            WireJson.Serialize(row, write);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var bytes = WireJson.Serialize(row, write);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // One byte[]: 24-byte header plus the payload rounded up to 8 bytes.
        Assert.That(allocated, Is.LessThanOrEqualTo(24 + bytes.Length + 8));
    }

    [Test]
    public void Serialize_Nested_InnerCallGetsItsOwnBuffer()
    {
        byte[]? inner = null;
        var outer = WireJson.Serialize(w =>
        {
            w.WriteStartArray();
            inner = WireJson.Serialize(v => WireJson.WriteString(v, "inner"));
            WireJson.WriteString(w, "outer");
            w.WriteEndArray();
        });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Encoding.UTF8.GetString(outer), Is.EqualTo("""["outer"]"""));
            Assert.That(Encoding.UTF8.GetString(inner!), Is.EqualTo("\"inner\""));
        }
    }

    [Test]
    public void Serialize_UnclosedObject_ThrowsAndNextCallIsClean()
    {
        Assert.That(() => WireJson.Serialize(w => w.WriteStartObject()), Throws.InvalidOperationException);
        Assert.That(() => WireJson.Serialize(w => throw new InvalidOperationException("boom")), Throws.InvalidOperationException);
        Assert.That(Serialized(w => w.WriteNumberValue(1)), Is.EqualTo("1"));
    }

    [Test]
    public void Serialize_DirectWriterCallsWithNonAscii_RewrittenToPythonForm()
    {
        var json = Serialized(w =>
        {
            w.WriteStartObject();
            w.WriteString("é", "ü😀\u001a");
            w.WriteEndObject();
        });

        Assert.That(json, Is.EqualTo("""{"\u00e9":"\u00fc\ud83d\ude00\u001a"}"""));
    }

    // ------------------------------------------------------------------ layouts

    [TestCase("""{"a":[1,2],"b":"x,:y"}""", """{"a": [1, 2], "b": "x,:y"}""")]
    [TestCase("""{"q":"say \"a,b\": c","r":"\\","s":"\\\""}""", """{"q": "say \"a,b\": c", "r": "\\", "s": "\\\""}""")]
    [TestCase("""{"a":{},"b":[],"c":[{}]}""", """{"a": {}, "b": [], "c": [{}]}""")]
    [TestCase("""[NaN,-Infinity,1e+16,-0.0,true,null]""", """[NaN, -Infinity, 1e+16, -0.0, true, null]""")]
    [TestCase("""[{"name":"add_order","type":"transaction","tables":["orders"]}]""", """[{"name": "add_order", "type": "transaction", "tables": ["orders"]}]""")]
    [TestCase("""{ "é" : "ü" ,"x": "\u00DC\/" }""", """{"\u00e9": "\u00fc", "x": "\u00dc/"}""")]
    [TestCase("\"a,b\"", "\"a,b\"")]
    [TestCase("42", "42")]
    public void ToPrettyCompact_Json_MatchesPythonDefaultSeparators(string input, string expected)
    {
        Assert.That(Encoding.UTF8.GetString(WireJson.ToPrettyCompact(Encoding.UTF8.GetBytes(input))), Is.EqualTo(expected));
    }

    [Test]
    public void WritePrettyCompact_IntoBufferWriter_SameAsToPrettyCompact()
    {
        var buffer = new ArrayBufferWriter<byte>(1);
        var input = Encoding.UTF8.GetBytes("""{"k":[""" + string.Join(",", Enumerable.Range(0, 500)) + "]}");
        WireJson.WritePrettyCompact(input, buffer);

        Assert.That(buffer.WrittenSpan.ToArray(), Is.EqualTo(WireJson.ToPrettyCompact(input)));
    }

    [Test]
    public void ToPrettyCompact_UnterminatedString_ThrowsFormatException()
    {
        Assert.That(() => WireJson.ToPrettyCompact("""{"a":"b"""u8), Throws.InstanceOf<FormatException>());
    }

    [Test]
    public void ToCompact_SpacedJson_RemovesWhitespaceOutsideStrings()
    {
        var compact = WireJson.ToCompact("{ \"a b\" : [ 1 , 2 ] ,\n \"c\" : { } }"u8);

        Assert.That(Encoding.UTF8.GetString(compact), Is.EqualTo("""{"a b":[1,2],"c":{}}"""));
    }

    [Test]
    public void ToIndented_MonitorInMessage_MatchesCliSample()
    {
        const string expected = """
            {
              "service": "orders",
              "data": {
                "id": "s1",
                "qty": 3
              },
              "op": "new"
            }
            """;

        var text = WireJson.ToIndented("""{"service":"orders","data":{"id":"s1","qty":3},"op":"new"}"""u8);

        Assert.That(text, Is.EqualTo(expected.ReplaceLineEndings("\n")));
    }

    [Test]
    public void ToIndented_MonitorOutMessage_MatchesCliSample()
    {
        const string expected = """
            {
              "type": "result",
              "service": "orders",
              "ref": "20261124 20:25:38.049049595000",
              "ok": true
            }
            """;

        var text = WireJson.ToIndented("""{"type":"result","service":"orders","ref":"20261124 20:25:38.049049595000","ok":true}"""u8);

        Assert.That(text, Is.EqualTo(expected.ReplaceLineEndings("\n")));
    }

    [Test]
    public void ToIndented_NestedAndEmptyContainers_MatchesJsonDumpsIndent2()
    {
        const string expected = """
            {
              "a": [],
              "b": {},
              "c": [
                1,
                {
                  "d": "\"q\""
                }
              ],
              "e": {
                "f": null,
                "g": true
              }
            }
            """;

        var text = WireJson.ToIndented("""{"a":[],"b":{ },"c":[1,{"d":"\"q\""}],"e":{"f":null,"g":true}}"""u8);

        Assert.That(text, Is.EqualTo(expected.ReplaceLineEndings("\n")));
    }

    [TestCase("[]", 2, "[]")]
    [TestCase("{}", 2, "{}")]
    [TestCase("[[]]", 2, "[\n  []\n]")]
    [TestCase("""{"a":1,"b":[1,2]}""", 4, "{\n    \"a\": 1,\n    \"b\": [\n        1,\n        2\n    ]\n}")]
    [TestCase("""{"a":1,"b":[2,{"c":[]}]}""", 0, "{\n\"a\": 1,\n\"b\": [\n2,\n{\n\"c\": []\n}\n]\n}")]
    [TestCase("""{"é":"ü"}""", 2, "{\n  \"\\u00e9\": \"\\u00fc\"\n}")]
    public void ToIndented_IndentWidth_MatchesJsonDumps(string input, int indent, string expected)
    {
        Assert.That(WireJson.ToIndented(Encoding.UTF8.GetBytes(input), indent), Is.EqualTo(expected));
    }

    // ------------------------------------------------------------------ helpers

    private static string Direct(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = WireJson.CreateWriter(buffer))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Serialized(Action<Utf8JsonWriter> write) => Encoding.UTF8.GetString(WireJson.Serialize(write));
}
