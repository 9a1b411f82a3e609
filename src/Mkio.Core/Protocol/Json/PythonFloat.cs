using System.Globalization;

namespace Mkio.Protocol.Json;

/// <summary>
/// Python's <c>repr(float)</c> (which is also what <c>json.dumps</c> writes): the shortest digits that
/// round-trip, in fixed notation with at least one fractional digit when the decimal exponent is
/// in [-4, 16), otherwise <c>d.ddde±XX</c> with at least two exponent digits. Non-finite values are the
/// bare JSON-extension tokens <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c>.
/// </summary>
/// <remarks>
/// The digits come from .NET's shortest round-trip formatting ("R"); only their layout is changed,
/// so there is no scaling arithmetic and no rounding of our own.
/// </remarks>
internal static class PythonFloat
{
    /// <summary>Enough room for any output (the longest is 24 bytes, e.g. <c>-1.7976931348623157e+308</c>).</summary>
    public const int MaxLength = 32;

    /// <summary>Formats <paramref name="value"/> into <paramref name="destination"/> (at least <see cref="MaxLength"/> bytes).</summary>
    /// <returns>The number of bytes written.</returns>
    public static int Format(double value, Span<byte> destination)
    {
        if (!double.IsFinite(value))
        {
            var token = double.IsNaN(value) ? "NaN"u8 : value > 0 ? "Infinity"u8 : "-Infinity"u8;
            token.CopyTo(destination);
            return token.Length;
        }

        Span<byte> r = stackalloc byte[MaxLength];
        if (!value.TryFormat(r, out var length, "R", CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("Unexpected round-trip format length.");
        }

        r = r[..length];

        var written = 0;
        var p = 0;
        if (r[0] == '-')
        {
            destination[written++] = (byte)'-';
            p = 1;
        }

        // Collect the mantissa digits; the decimal point follows pointPos of them.
        Span<byte> all = stackalloc byte[MaxLength];
        var count = 0;
        var pointPos = -1;
        for (; p < r.Length; p++)
        {
            var b = r[p];
            if (b == '.')
            {
                pointPos = count;
            }
            else if (b is (byte)'E' or (byte)'e')
            {
                break;
            }
            else
            {
                all[count++] = b;
            }
        }

        if (pointPos < 0)
        {
            pointPos = count;
        }

        var exponent = 0;
        if (p < r.Length)
        {
            exponent = int.Parse(r[(p + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        var first = all[..count].IndexOfAnyExcept((byte)'0');
        if (first < 0)
        {
            "0.0"u8.CopyTo(destination[written..]);
            return written + 3;
        }

        var last = all[..count].LastIndexOfAnyExcept((byte)'0');
        ReadOnlySpan<byte> digits = all[first..(last + 1)];

        // value = 0.d1d2d3... × 10^decpt, as in CPython's format_float_short.
        var decpt = pointPos - first + exponent;

        if (decpt is > -4 and <= 16)
        {
            if (decpt <= 0)
            {
                destination[written++] = (byte)'0';
                destination[written++] = (byte)'.';
                destination.Slice(written, -decpt).Fill((byte)'0');
                written += -decpt;
                digits.CopyTo(destination[written..]);
                written += digits.Length;
            }
            else if (decpt < digits.Length)
            {
                digits[..decpt].CopyTo(destination[written..]);
                written += decpt;
                destination[written++] = (byte)'.';
                digits[decpt..].CopyTo(destination[written..]);
                written += digits.Length - decpt;
            }
            else
            {
                digits.CopyTo(destination[written..]);
                written += digits.Length;
                destination.Slice(written, decpt - digits.Length).Fill((byte)'0');
                written += decpt - digits.Length;
                destination[written++] = (byte)'.';
                destination[written++] = (byte)'0';
            }

            return written;
        }

        destination[written++] = digits[0];
        if (digits.Length > 1)
        {
            destination[written++] = (byte)'.';
            digits[1..].CopyTo(destination[written..]);
            written += digits.Length - 1;
        }

        var e = decpt - 1;
        destination[written++] = (byte)'e';
        destination[written++] = e < 0 ? (byte)'-' : (byte)'+';
        e = Math.Abs(e);
        if (e >= 100)
        {
            destination[written++] = (byte)('0' + (e / 100));
            e %= 100;
        }

        destination[written++] = (byte)('0' + (e / 10));
        destination[written++] = (byte)('0' + (e % 10));
        return written;
    }

    /// <summary>Python's <c>repr(value)</c> as a string (for CLI and diagnostics; allocates).</summary>
    public static string Repr(double value)
    {
        Span<byte> buffer = stackalloc byte[MaxLength];
        var n = Format(value, buffer);
        return System.Text.Encoding.ASCII.GetString(buffer[..n]);
    }
}
