using System.Globalization;
using System.Numerics;
using Mkio.Expressions;

namespace Mkio.Core.Tests.Expressions;

public class PyMathTests
{
    [TestCase(2.675, 2, 2.67)]
    [TestCase(1.005, 2, 1.0)]
    [TestCase(0.125, 2, 0.12)]
    [TestCase(0.135, 2, 0.14)]
    [TestCase(2.5, 0, 2.0)]
    [TestCase(-2.5, 0, -2.0)]
    [TestCase(1234.5678, -2, 1200.0)]
    [TestCase(5e-324, 323, 0.0)]
    [TestCase(5e-324, 324, 5e-324)]
    [TestCase(1.5e-323, 323, 1e-323)]
    [TestCase(1e22, -22, 1e22)]
    [TestCase(1.5e22, -22, 2e22)]
    [TestCase(123456.789e10, -12, 1.235e15)]
    public void RoundFloat_Value_MatchesPython(double x, long n, double expected) =>
        Assert.That(PyMath.RoundFloat(x, n, -1), Is.EqualTo(expected));

    [Test]
    public void RoundFloat_RandomValues_MatchesExactReference()
    {
        var random = new Random(12345);
        for (var i = 0; i < 20_000; i++)
        {
            var x = (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-12, 18));
            if (i % 4 == 0)
            {
                // Exact decimal ties such as 0.125 or 2.5 (short binary fractions).
                x = Math.Round(x * 8) / 8;
            }

            var n = random.Next(-6, 25);
            var actual = PyMath.RoundFloat(x, n, -1);
            var expected = ReferenceRound(x, n);
            if (BitConverter.DoubleToInt64Bits(actual) != BitConverter.DoubleToInt64Bits(expected))
            {
                Assert.Fail($"ROUND({x:R}, {n}) = {actual:R}, expected {expected:R}");
            }
        }
    }

    /// <summary>Straightforward exact rounding: exact rational of x, half-even to n decimals, parse.</summary>
    private static double ReferenceRound(double x, int n)
    {
        if (x == 0)
        {
            return x;
        }

        var bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
        var exponent = (int)(bits >> 52);
        var mantissa = bits & ((1L << 52) - 1);
        if (exponent == 0)
        {
            exponent = 1;
        }
        else
        {
            mantissa |= 1L << 52;
        }

        var e = exponent - 1075;
        BigInteger num = mantissa, den = BigInteger.One;
        if (e > 0)
        {
            num <<= e;
        }
        else
        {
            den <<= -e;
        }

        if (n >= 0)
        {
            num *= BigInteger.Pow(10, n);
        }
        else
        {
            den *= BigInteger.Pow(10, -n);
        }

        var q = BigInteger.DivRem(num, den, out var r);
        var c = (r * 2).CompareTo(den);
        if (c > 0 || (c == 0 && !q.IsEven))
        {
            q++;
        }

        var result = double.Parse(q.ToString(CultureInfo.InvariantCulture) + "E" + (-n).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return x < 0 ? -result : result;
    }

    [TestCase("9007199254740993", 9007199254740992.0)]
    [TestCase("9007199254740995", 9007199254740996.0)]
    [TestCase("-9007199254740995", -9007199254740996.0)]
    [TestCase("18014398509481987", 18014398509481988.0)]
    [TestCase("100000000000000000000000000000", 1e29)]
    [TestCase("179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368", double.MaxValue)]
    public void ToDouble_BigInteger_IsCorrectlyRounded(string integer, double expected) =>
        Assert.That(PyMath.ToDouble(BigInteger.Parse(integer, CultureInfo.InvariantCulture), -1), Is.EqualTo(expected));

    [Test]
    public void ToDouble_BeyondDoubleRange_ThrowsEvaluationError()
    {
        var ex = Assert.Throws<ExpressionException>(() => PyMath.ToDouble(BigInteger.Pow(10, 400), 3));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Message, Is.EqualTo("int too large to convert to float"));
            Assert.That(ex.Position, Is.EqualTo(3));
        }
    }

    [TestCase("1", "3", 1.0 / 3)]
    [TestCase("-9007199254740993", "1", -9007199254740992.0)]
    [TestCase("9007199254740993", "2", 4503599627370496.0)]
    [TestCase("1", "100000000000000000000000000000", 1e-29)]
    public void TrueDivide_Integers_IsCorrectlyRounded(string a, string b, double expected) =>
        Assert.That(
            PyMath.TrueDivide(BigInteger.Parse(a, CultureInfo.InvariantCulture), BigInteger.Parse(b, CultureInfo.InvariantCulture), -1),
            Is.EqualTo(expected));

    [Test]
    public void TrueDivide_BigIntegers_MatchesCorrectlyRoundedDecimalParse()
    {
        var expected = double.Parse("333333333333333333333333333333.3333333333", CultureInfo.InvariantCulture);
        Assert.That(PyMath.TrueDivide(BigInteger.Pow(10, 30), 3, -1), Is.EqualTo(expected));
    }

    [Test]
    public void TrueDivide_ResultBeyondDoubleRange_ThrowsEvaluationError() =>
        Assert.Throws<ExpressionException>(() => PyMath.TrueDivide(BigInteger.Pow(10, 400), 3, -1));

    [TestCase(3L, 3.0, 0)]
    [TestCase(3L, 3.5, -1)]
    [TestCase(4L, 3.5, 1)]
    [TestCase(-4L, -3.5, -1)]
    [TestCase(long.MaxValue, 9223372036854775808.0, -1)]
    [TestCase(long.MinValue, -9223372036854775808.0, 0)]
    [TestCase(long.MinValue, double.NegativeInfinity, 1)]
    [TestCase(0L, -0.0, 0)]
    public void CompareIntFloat_Values_AreExact(long i, double d, int expected) =>
        Assert.That(PyMath.CompareIntFloat(i, d), Is.EqualTo(expected));

    [TestCase(-5, "1234", "0")]
    [TestCase(-1, "-15", "-20")]
    [TestCase(-1, "-25", "-20")]
    [TestCase(-2, "99999999999999999950", "100000000000000000000")]
    [TestCase(-2, "99999999999999999850", "99999999999999999800")]
    public void RoundInteger_NegativeDigits_RoundsHalfToEven(long n, string x, string expected) =>
        Assert.That(PyMath.RoundInteger(BigInteger.Parse(x, CultureInfo.InvariantCulture), n), Is.EqualTo(BigInteger.Parse(expected, CultureInfo.InvariantCulture)));
}
