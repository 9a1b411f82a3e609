using Mkio.Expressions;

namespace Mkio.Core.Tests.Expressions;

public class PyTextTests
{
    [TestCase("", "''")]
    [TestCase("abc", "'abc'")]
    [TestCase("it's", "\"it's\"")]
    [TestCase("a'\"b", "'a\\'\"b'")]
    [TestCase("\"", "'\"'")]
    [TestCase("\\", "'\\\\'")]
    [TestCase("a\nb\tc\rd", "'a\\nb\\tc\\rd'")]
    [TestCase("\u0000\u007f", "'\\x00\\x7f'")]
    [TestCase("\u00a0\u00ad", "'\\xa0\\xad'")]
    [TestCase("\u00e9\u4e2d", "'\u00e9\u4e2d'")]
    [TestCase("\u200b", "'\\u200b'")]
    [TestCase("\U0001F600", "'\U0001F600'")]
    [TestCase("\U000E0001", "'\\U000e0001'")]
    public void Repr_String_MatchesPythonRepr(string value, string expected) =>
        Assert.That(PyText.Repr(value), Is.EqualTo(expected));

    [Test]
    public void Repr_LoneSurrogate_IsEscaped() =>
        Assert.That(PyText.Repr(new string('\ud800', 1)), Is.EqualTo("'\\ud800'"));

    [TestCase("a", "b", -1)]
    [TestCase("B", "a", -1)]
    [TestCase("ab", "a", 1)]
    [TestCase("", "", 0)]
    [TestCase("\uffff", "\U0001F600", -1)]
    [TestCase("\U0001F600", "\ue000", 1)]
    [TestCase("\U0001F600", "\U0001F601", -1)]
    public void CompareCodePoints_Strings_OrdersByCodePoint(string a, string b, int expected) =>
        Assert.That(Math.Sign(PyText.CompareCodePoints(a, b)), Is.EqualTo(expected));

    [TestCase("abc", "ABC")]
    [TestCase("ABC", "ABC")]
    [TestCase("stra\u00dfe", "STRASSE")]
    [TestCase("\u0131", "I")]
    [TestCase("\u017f", "S")]
    [TestCase("\ufb03", "FFI")]
    [TestCase("\U00010428", "\U00010400")]
    public void Upper_Text_MatchesPythonUpper(string value, string expected) =>
        Assert.That(PyText.Upper(value), Is.EqualTo(expected));

    [Test]
    public void Upper_AlreadyUpperAscii_ReturnsSameInstance()
    {
        var text = "ALICE";
        Assert.That(PyText.Upper(text), Is.SameAs(text));
    }

    [TestCase("ABC", "abc")]
    [TestCase("\u0130x", "i\u0307x")]
    [TestCase("\u00c9", "\u00e9")]
    public void Lower_Text_MatchesPythonLower(string value, string expected) =>
        Assert.That(PyText.Lower(value), Is.EqualTo(expected));

    [TestCase("abc", 2, 2)]
    [TestCase("\U0001F600x", 2, 1)]
    [TestCase("\U0001F600\U0001F600x", 4, 2)]
    public void CodePointIndex_Utf16Index_CountsSurrogatePairsOnce(string text, int utf16, int expected) =>
        Assert.That(PyText.CodePointIndex(text, utf16), Is.EqualTo(expected));
}
