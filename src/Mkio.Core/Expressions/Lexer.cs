using System.Globalization;
using System.Text;

namespace Mkio.Expressions;

/// <summary>Token types; the names appear in parse errors (<c>Expected RPAREN, got EOF('')</c>).</summary>
internal enum TokenType : byte
{
    IDENT,
    NUMBER,
    STRING,
    OP,
    LPAREN,
    RPAREN,
    COMMA,
    EOF,
}

/// <summary>
/// One token. <see cref="Value"/> is the token text as the reference keeps it: the raw number text,
/// the string content (with <c>\'</c> replaced), the identifier, the operator, or "" for EOF.
/// <see cref="Upper"/> is the Python <c>upper()</c> of an identifier (keywords and function names), else <see cref="Value"/>.
/// </summary>
internal readonly record struct Token(TokenType Type, string Value, int Position)
{
    public string Upper { get; init; } = Value;
}

/// <summary>The tokenizer of §1.</summary>
internal static class Lexer
{
    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        var n = text.Length;
        while (i < n)
        {
            var c = text[i];
            if (c is ' ' or '\t' or '\r' or '\n')
            {
                i++;
                continue;
            }

            if (c == '\'')
            {
                var start = i;
                i++;
                while (i < n && text[i] != '\'')
                {
                    i += text[i] == '\\' ? 2 : 1;
                }

                if (i >= n)
                {
                    throw Errors.Parse("Unterminated string literal", start);
                }

                var raw = text.Substring(start + 1, i - start - 1);
                tokens.Add(new Token(TokenType.STRING, raw.Replace("\\'", "'", StringComparison.Ordinal), start));
                i++;
                continue;
            }

            if (IsAsciiDigit(c) || (c == '.' && i + 1 < n && IsAsciiDigit(text[i + 1])))
            {
                var start = i;
                var seenDot = false;
                while (i < n && (IsAsciiDigit(text[i]) || (text[i] == '.' && !seenDot)))
                {
                    seenDot |= text[i] == '.';
                    i++;
                }

                tokens.Add(new Token(TokenType.NUMBER, text[start..i], start));
                continue;
            }

            if (i + 1 < n && text[i + 1] == '=' && c is '=' or '!' or '>' or '<')
            {
                tokens.Add(new Token(TokenType.OP, text.Substring(i, 2), i));
                i += 2;
                continue;
            }

            switch (c)
            {
                case '>' or '<' or '=' or '+' or '-' or '*' or '/':
                    tokens.Add(new Token(TokenType.OP, OneChar(c), i));
                    i++;
                    continue;
                case '(':
                    tokens.Add(new Token(TokenType.LPAREN, "(", i));
                    i++;
                    continue;
                case ')':
                    tokens.Add(new Token(TokenType.RPAREN, ")", i));
                    i++;
                    continue;
                case ',':
                    tokens.Add(new Token(TokenType.COMMA, ",", i));
                    i++;
                    continue;
            }

            if (c == '_' || (TryRune(text, i, out var rune, out var width) && Rune.IsLetter(rune)))
            {
                var start = i;
                while (i < n)
                {
                    if (text[i] == '_')
                    {
                        i++;
                    }
                    else if (TryRune(text, i, out var r, out var w) && (Rune.IsLetter(r) || Rune.IsNumber(r)))
                    {
                        i += w;
                    }
                    else
                    {
                        break;
                    }
                }

                var ident = text[start..i];
                tokens.Add(new Token(TokenType.IDENT, ident, start) { Upper = PyText.Upper(ident) });
                continue;
            }

            var shown = TryRune(text, i, out rune, out width) ? rune.ToString() : c.ToString();
            throw Errors.Parse(
                "Unexpected character: " + PyText.Repr(shown) + " at position "
                    + PyText.CodePointIndex(text, i).ToString(CultureInfo.InvariantCulture),
                i);
        }

        tokens.Add(new Token(TokenType.EOF, string.Empty, n));
        return tokens;
    }

    private static bool IsAsciiDigit(char c) => c is >= '0' and <= '9';

    private static bool TryRune(string text, int index, out Rune rune, out int width) =>
        Rune.DecodeFromUtf16(text.AsSpan(index), out rune, out width) == System.Buffers.OperationStatus.Done;

    private static string OneChar(char c) => c switch
    {
        '>' => ">",
        '<' => "<",
        '=' => "=",
        '+' => "+",
        '-' => "-",
        '*' => "*",
        _ => "/",
    };
}
