using Mkio.Expressions;

namespace Mkio.Core.Tests.Expressions;

public class LexerTests
{
    private static string Describe(string text) =>
        string.Join(" ", Lexer.Tokenize(text).Select(t => t.Type + "(" + t.Value + ")"));

    [TestCase("42", "NUMBER(42) EOF()")]
    [TestCase("3.14 .5 1.", "NUMBER(3.14) NUMBER(.5) NUMBER(1.) EOF()")]
    [TestCase("1e5", "NUMBER(1) IDENT(e5) EOF()")]
    [TestCase("1.2.3", "NUMBER(1.2) NUMBER(.3) EOF()")]
    [TestCase("1..2", "NUMBER(1.) NUMBER(.2) EOF()")]
    [TestCase("a>=b<=c==d!=e", "IDENT(a) OP(>=) IDENT(b) OP(<=) IDENT(c) OP(==) IDENT(d) OP(!=) IDENT(e) EOF()")]
    [TestCase("a=b", "IDENT(a) OP(=) IDENT(b) EOF()")]
    [TestCase("f(a,-b)*c/d+e", "IDENT(f) LPAREN(() IDENT(a) COMMA(,) OP(-) IDENT(b) RPAREN()) OP(*) IDENT(c) OP(/) IDENT(d) OP(+) IDENT(e) EOF()")]
    [TestCase("\t_x1\r\n\u00e9t\u00e9 caf\u00e9_2", "IDENT(_x1) IDENT(\u00e9t\u00e9) IDENT(caf\u00e9_2) EOF()")]
    [TestCase("a\u00b2", "IDENT(a\u00b2) EOF()")]
    [TestCase("'it\\'s'", "STRING(it's) EOF()")]
    [TestCase("'a\\nb'", "STRING(a\\nb) EOF()")]
    [TestCase("''", "STRING() EOF()")]
    [TestCase("'a' 'b'", "STRING(a) STRING(b) EOF()")]
    [TestCase("", "EOF()")]
    public void Tokenize_Input_ProducesTokens(string text, string expected) =>
        Assert.That(Describe(text), Is.EqualTo(expected));

    [Test]
    public void Tokenize_Tokens_CarryUtf16Positions()
    {
        var tokens = Lexer.Tokenize("ab  >= 'x'");
        Assert.That(tokens.Select(t => t.Position), Is.EqualTo(new[] { 0, 4, 7, 10 }));
    }

    [Test]
    public void Tokenize_Identifier_KeepsUpperCasedForm()
    {
        var token = Lexer.Tokenize("stra\u00dfe")[0];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(token.Value, Is.EqualTo("stra\u00dfe"));
            Assert.That(token.Upper, Is.EqualTo("STRASSE"));
        }
    }

    [Test]
    public void Tokenize_NumberValue_IsTheRawText() =>
        Assert.That(Lexer.Tokenize("007")[0].Value, Is.EqualTo("007"));
}
