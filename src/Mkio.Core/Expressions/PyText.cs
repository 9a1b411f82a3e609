using System.Globalization;
using System.Text;

namespace Mkio.Expressions;

/// <summary>Python string behaviours the language depends on: repr, upper/lower, code-point ordering.</summary>
internal static class PyText
{
    // Unconditional multi-character upper-case mappings of Unicode SpecialCasing.txt that
    // Python's str.upper() applies and .NET's simple case mapping does not (Latin, Armenian, a few Greek).
    private static readonly Dictionary<char, string> SpecialUpper = new()
    {
        ['\u00DF'] = "SS",
        ['\u0131'] = "I", // .NET's invariant casing leaves dotless i alone; Python maps it
        ['\u0149'] = "\u02BCN",
        ['\u01F0'] = "J\u030C",
        ['\u0390'] = "\u0399\u0308\u0301",
        ['\u03B0'] = "\u03A5\u0308\u0301",
        ['\u0587'] = "\u0535\u0552",
        ['\u1E96'] = "H\u0331",
        ['\u1E97'] = "T\u0308",
        ['\u1E98'] = "W\u030A",
        ['\u1E99'] = "Y\u030A",
        ['\u1E9A'] = "A\u02BE",
        ['\uFB00'] = "FF",
        ['\uFB01'] = "FI",
        ['\uFB02'] = "FL",
        ['\uFB03'] = "FFI",
        ['\uFB04'] = "FFL",
        ['\uFB05'] = "ST",
        ['\uFB06'] = "ST",
        ['\uFB13'] = "\u0544\u0546",
        ['\uFB14'] = "\u0544\u0535",
        ['\uFB15'] = "\u0544\u053B",
        ['\uFB16'] = "\u054E\u0546",
        ['\uFB17'] = "\u0544\u053D",
    };

    /// <summary>Python <c>repr(str)</c>: single quotes unless the text contains <c>'</c> and no <c>"</c>.</summary>
    public static string Repr(string s)
    {
        var quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2);
        sb.Append(quote);
        for (var i = 0; i < s.Length;)
        {
            var status = Rune.DecodeFromUtf16(s.AsSpan(i), out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                // Lone surrogate: Python shows it as \udxxx.
                sb.Append("\\u").Append(((int)s[i]).ToString("x4", CultureInfo.InvariantCulture));
                i++;
                continue;
            }

            i += consumed;
            var c = rune.Value;
            if (c == quote || c == '\\')
            {
                sb.Append('\\').Append((char)c);
            }
            else if (c == '\t')
            {
                sb.Append("\\t");
            }
            else if (c == '\n')
            {
                sb.Append("\\n");
            }
            else if (c == '\r')
            {
                sb.Append("\\r");
            }
            else if (c < 0x20 || c == 0x7F)
            {
                sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            }
            else if (c < 0x7F || IsPrintable(rune))
            {
                sb.Append(rune.ToString());
            }
            else if (c <= 0xFF)
            {
                sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            }
            else if (c <= 0xFFFF)
            {
                sb.Append("\\u").Append(c.ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append("\\U").Append(c.ToString("x8", CultureInfo.InvariantCulture));
            }
        }

        sb.Append(quote);
        return sb.ToString();
    }

    private static bool IsPrintable(Rune rune)
    {
        if (rune.Value == ' ')
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>Python <c>str.upper()</c> (full case mapping for the common special cases).</summary>
    public static string Upper(string s)
    {
        var needsWork = false;
        var ascii = true;
        foreach (var c in s)
        {
            if (c >= 0x80)
            {
                ascii = false;
                break;
            }

            if (c is >= 'a' and <= 'z')
            {
                needsWork = true;
            }
        }

        if (ascii)
        {
            return needsWork ? s.ToUpperInvariant() : s;
        }

        return MapWithSpecials(s, SpecialUpper, upper: true);
    }

    /// <summary>Python <c>str.lower()</c> (full case mapping for U+0130; no final-sigma rule).</summary>
    public static string Lower(string s)
    {
        var needsWork = false;
        var ascii = true;
        foreach (var c in s)
        {
            if (c >= 0x80)
            {
                ascii = false;
                break;
            }

            if (c is >= 'A' and <= 'Z')
            {
                needsWork = true;
            }
        }

        if (ascii)
        {
            return needsWork ? s.ToLowerInvariant() : s;
        }

        return s.Contains('\u0130', StringComparison.Ordinal) ? LowerWithDottedI(s) : s.ToLowerInvariant();
    }

    private static string LowerWithDottedI(string s)
    {
        var sb = new StringBuilder(s.Length + 4);
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\u0130')
            {
                sb.Append(s.AsSpan(start, i - start).ToString().ToLowerInvariant());
                sb.Append("i\u0307");
                start = i + 1;
            }
        }

        sb.Append(s.AsSpan(start).ToString().ToLowerInvariant());
        return sb.ToString();
    }

    private static string MapWithSpecials(string s, Dictionary<char, string> specials, bool upper)
    {
        var any = false;
        foreach (var c in s)
        {
            if (specials.ContainsKey(c))
            {
                any = true;
                break;
            }
        }

        if (!any)
        {
            return upper ? s.ToUpperInvariant() : s.ToLowerInvariant();
        }

        var sb = new StringBuilder(s.Length + 8);
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (specials.TryGetValue(s[i], out var mapped))
            {
                var run = s[start..i];
                sb.Append(upper ? run.ToUpperInvariant() : run.ToLowerInvariant());
                sb.Append(mapped);
                start = i + 1;
            }
        }

        var tail = s[start..];
        sb.Append(upper ? tail.ToUpperInvariant() : tail.ToLowerInvariant());
        return sb.ToString();
    }

    /// <summary>Compares by Unicode code point (Python str ordering), not by UTF-16 code unit.</summary>
    public static int CompareCodePoints(string a, string b)
    {
        var sa = a.AsSpan();
        var sb = b.AsSpan();
        var common = sa.CommonPrefixLength(sb);
        if (common == sa.Length || common == sb.Length)
        {
            return sa.Length.CompareTo(sb.Length);
        }

        return Fix(sa[common]).CompareTo(Fix(sb[common]));

        // Surrogates (code points >= U+10000) sort above U+E000..U+FFFF.
        static int Fix(char c) => c < 0xD800 ? c : c >= 0xE000 ? c - 0x800 : c + 0x2000;
    }

    /// <summary>The 0-based code-point index of UTF-16 index <paramref name="utf16Index"/> (Python string index).</summary>
    public static int CodePointIndex(string s, int utf16Index)
    {
        var n = utf16Index;
        for (var i = 1; i < utf16Index && i < s.Length; i++)
        {
            if (char.IsLowSurrogate(s[i]) && char.IsHighSurrogate(s[i - 1]))
            {
                n--;
            }
        }

        return n;
    }
}
