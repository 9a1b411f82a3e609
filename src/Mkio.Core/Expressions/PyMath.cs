using System.Globalization;
using System.Numerics;

namespace Mkio.Expressions;

/// <summary>Exact numeric helpers reproducing Python's int/float semantics.</summary>
internal static class PyMath
{
    private const long TwoPow53 = 1L << 53;

    private static readonly double[] Pow10Double =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    private static readonly ulong[] Pow10UInt64 = BuildPow10UInt64();

    private static ulong[] BuildPow10UInt64()
    {
        var table = new ulong[20];
        table[0] = 1;
        for (var i = 1; i < table.Length; i++)
        {
            table[i] = table[i - 1] * 10;
        }

        return table;
    }

    /// <summary>Python <c>float(int)</c>: correctly rounded (ties to even); overflow is an error.</summary>
    public static double ToDouble(BigInteger value, int position)
    {
        if (value >= -TwoPow53 && value <= TwoPow53)
        {
            return (double)(long)value;
        }

        var result = RatioToDouble(BigInteger.Abs(value), BigInteger.One);
        if (double.IsInfinity(result))
        {
            throw Errors.Eval("int too large to convert to float", position);
        }

        return value.Sign < 0 ? -result : result;
    }

    /// <summary>Python <c>int / int</c>: the correctly rounded quotient. <paramref name="b"/> is non-zero.</summary>
    public static double TrueDivide(BigInteger a, BigInteger b, int position)
    {
        if (a >= -TwoPow53 && a <= TwoPow53 && b >= -TwoPow53 && b <= TwoPow53)
        {
            return (double)(long)a / (long)b;
        }

        var negative = (a.Sign < 0) != (b.Sign < 0);
        if (a.IsZero)
        {
            return negative ? -0.0 : 0.0;
        }

        var result = RatioToDouble(BigInteger.Abs(a), BigInteger.Abs(b));
        if (double.IsInfinity(result))
        {
            throw Errors.Eval("integer division result too large for a float", position);
        }

        return negative ? -result : result;
    }

    /// <summary>The double nearest to <paramref name="num"/> / <paramref name="den"/> (both positive), ties to even; may be +inf.</summary>
    private static double RatioToDouble(BigInteger num, BigInteger den)
    {
        if (num.IsZero)
        {
            return 0.0;
        }

        var e = num.GetBitLength() - den.GetBitLength();
        var s = Math.Max(e - 55, -1076L);
        if (s > 2000)
        {
            return double.PositiveInfinity;
        }

        BigInteger q;
        BigInteger r;
        if (s >= 0)
        {
            (q, r) = BigInteger.DivRem(num, den << (int)s);
        }
        else
        {
            (q, r) = BigInteger.DivRem(num << (int)-s, den);
        }

        var sticky = !r.IsZero;
        var exp = q.GetBitLength() - 1 + s;
        if (exp > 1023)
        {
            return double.PositiveInfinity;
        }

        var ulpExp = Math.Max(exp - 52, -1074L);
        var drop = (int)(ulpExp - s);
        var mantissa = q >> drop;
        var rest = q - (mantissa << drop);
        var half = BigInteger.One << (drop - 1);
        var cmp = rest.CompareTo(half);
        if (cmp > 0 || (cmp == 0 && (sticky || !mantissa.IsEven)))
        {
            mantissa += 1;
        }

        return Math.ScaleB((double)(long)mantissa, (int)ulpExp);
    }

    /// <summary>Exact three-way comparison of an integer with a non-NaN double.</summary>
    public static int CompareIntFloat(long i, double d)
    {
        if (d >= 9223372036854775808.0)
        {
            return -1;
        }

        if (d < -9223372036854775808.0)
        {
            return 1;
        }

        var floor = Math.Floor(d);
        var f = (long)floor;
        if (i != f)
        {
            return i < f ? -1 : 1;
        }

        return d > floor ? -1 : 0;
    }

    /// <summary>Exact three-way comparison of a big integer with a non-NaN double.</summary>
    public static int CompareBigFloat(BigInteger i, double d)
    {
        if (double.IsPositiveInfinity(d))
        {
            return -1;
        }

        if (double.IsNegativeInfinity(d))
        {
            return 1;
        }

        var floor = Math.Floor(d);
        var cmp = i.CompareTo(new BigInteger(floor));
        if (cmp != 0)
        {
            return cmp;
        }

        return d > floor ? -1 : 0;
    }

    /// <summary>Python <c>round(int, n)</c>: unchanged for n &gt;= 0, else to a multiple of 10^-n, ties to even.</summary>
    public static BigInteger RoundInteger(BigInteger x, long n)
    {
        if (n >= 0 || x.IsZero)
        {
            return x;
        }

        var k = -n;
        var abs = BigInteger.Abs(x);
        if (k > (abs.GetBitLength() / 3) + 1)
        {
            return BigInteger.Zero; // 10^k > 2|x|
        }

        var p = BigInteger.Pow(10, (int)k);
        var (q, r) = BigInteger.DivRem(abs, p);
        var cmp = (r << 1).CompareTo(p);
        if (cmp > 0 || (cmp == 0 && !q.IsEven))
        {
            q += 1;
        }

        var result = q * p;
        return x.Sign < 0 ? -result : result;
    }

    /// <summary>
    /// Python <c>round(float, n)</c>: the exact binary value rounded to n decimals with ties to even,
    /// then converted back to the nearest double.
    /// </summary>
    public static double RoundFloat(double x, long n, int position)
    {
        if (!double.IsFinite(x) || n > 323)
        {
            return x;
        }

        if (n < -308)
        {
            return 0.0 * x;
        }

        if (x == 0.0)
        {
            return x;
        }

        var negative = x < 0;
        var bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
        var biased = (int)(bits >> 52);
        var fraction = (ulong)bits & ((1UL << 52) - 1);
        ulong m;
        int e;
        if (biased == 0)
        {
            m = fraction;
            e = -1074;
        }
        else
        {
            m = fraction | (1UL << 52);
            e = biased - 1075;
        }

        if (e >= 0 && n >= 0)
        {
            return x; // already an integer
        }

        if (n is >= 0 and <= 19 && e < 0 && -e <= 127)
        {
            // Fast exact path: |x| * 10^n = m * 10^n / 2^s with everything in 128 bits.
            var num = (UInt128)m * Pow10UInt64[n];
            var s = -e;
            var q = num >> s;
            var rest = num - (q << s);
            var half = UInt128.One << (s - 1);
            if (rest > half || (rest == half && (q & UInt128.One) == UInt128.One))
            {
                q++;
            }

            if (q < (UInt128)TwoPow53)
            {
                var quick = (double)(ulong)q / Pow10Double[n];
                return negative ? -quick : quick;
            }

            return FromDecimal((BigInteger)q, n, negative, position);
        }

        var bigNum = new BigInteger(m);
        var bigDen = BigInteger.One;
        if (e > 0)
        {
            bigNum <<= e;
        }
        else
        {
            bigDen <<= -e;
        }

        if (n >= 0)
        {
            bigNum *= BigInteger.Pow(10, (int)n);
        }
        else
        {
            bigDen *= BigInteger.Pow(10, (int)-n);
        }

        var (bq, br) = BigInteger.DivRem(bigNum, bigDen);
        var c = (br << 1).CompareTo(bigDen);
        if (c > 0 || (c == 0 && !bq.IsEven))
        {
            bq += 1;
        }

        return FromDecimal(bq, n, negative, position);
    }

    /// <summary>The double nearest to q * 10^-n, with the given sign.</summary>
    private static double FromDecimal(BigInteger q, long n, bool negative, int position)
    {
        double result;
        if (q.IsZero)
        {
            result = 0.0;
        }
        else if (q < TwoPow53 && n is >= 0 and <= 22)
        {
            result = (double)(long)q / Pow10Double[n];
        }
        else if (q < TwoPow53 && n is < 0 and >= -22)
        {
            result = (double)(long)q * Pow10Double[-n];
        }
        else
        {
            var text = q.ToString(CultureInfo.InvariantCulture) + "E" + (-n).ToString(CultureInfo.InvariantCulture);
            result = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        if (double.IsInfinity(result))
        {
            throw Errors.Eval("rounded value too large to represent", position);
        }

        return negative ? -result : result;
    }
}
