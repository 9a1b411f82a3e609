using System.Numerics;
using System.Runtime.CompilerServices;

namespace Mkio.Expressions;

/// <summary>Arithmetic operators of the language.</summary>
internal enum ArithmeticOp : byte
{
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// <summary>Comparison-level operators of the language.</summary>
internal enum CompareOp : byte
{
    Equal,
    NotEqual,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    Contains,
    StartsWith,
    In,
}

/// <summary>The operator semantics of §4 (Python rules) on <see cref="Value"/>s.</summary>
internal static class Ops
{
    public static string Symbol(ArithmeticOp op) => op switch
    {
        ArithmeticOp.Add => "+",
        ArithmeticOp.Subtract => "-",
        ArithmeticOp.Multiply => "*",
        _ => "/",
    };

    public static string Symbol(CompareOp op) => op switch
    {
        CompareOp.Equal => "==",
        CompareOp.NotEqual => "!=",
        CompareOp.Less => "<",
        CompareOp.Greater => ">",
        CompareOp.LessOrEqual => "<=",
        CompareOp.GreaterOrEqual => ">=",
        CompareOp.Contains => "CONTAINS",
        CompareOp.StartsWith => "STARTS_WITH",
        _ => "IN",
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Value Arithmetic(ArithmeticOp op, in Value a, in Value b, int position) => op switch
    {
        ArithmeticOp.Add => Add(a, b, position),
        ArithmeticOp.Subtract => Subtract(a, b, position),
        ArithmeticOp.Multiply => Multiply(a, b, position),
        _ => Divide(a, b, position),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Compare(CompareOp op, in Value a, in Value b, int position) => op switch
    {
        CompareOp.Equal => AreEqual(a, b),
        CompareOp.NotEqual => !AreEqual(a, b),
        CompareOp.Contains => Contains(a, b, position),
        CompareOp.StartsWith => StartsWith(a, b, position),
        CompareOp.In => In(a, b),
        _ => Order(op, a, b, position),
    };

    /// <summary>Numeric value of a bool/int/float as a double (Python <c>float(x)</c>).</summary>
    public static double ToDouble(in Value v, int position) => v.Kind switch
    {
        ValueKind.Float => v.FloatValue,
        ValueKind.BigInt => PyMath.ToDouble(v.BigValue, position),
        _ => v.IntValue,
    };

    public static Value Add(in Value a, in Value b, int position)
    {
        if (a.IsSmallInt && b.IsSmallInt)
        {
            long x = a.IntValue, y = b.IntValue, r = x + y;
            return ((x ^ r) & (y ^ r)) < 0 ? Value.Integer((BigInteger)x + y) : Value.Int(r);
        }

        if (a.IsNumeric && b.IsNumeric)
        {
            if (a.Kind == ValueKind.Float || b.Kind == ValueKind.Float)
            {
                return Value.Float(ToDouble(a, position) + ToDouble(b, position));
            }

            EvalBudget.Scan(Words(a) + Words(b), position);
            return Value.Integer(a.ToBigInteger() + b.ToBigInteger());
        }

        if (a.Kind == b.Kind)
        {
            switch (a.Kind)
            {
                case ValueKind.String:
                    CheckLength((long)a.StringValue.Length + b.StringValue.Length, position);
                    EvalBudget.Produce((long)a.StringValue.Length + b.StringValue.Length, position);
                    return Value.String(string.Concat(a.StringValue, b.StringValue));
                case ValueKind.List:
                    {
                        var left = a.ListValue;
                        var right = b.ListValue;
                        CheckLength((long)left.Count + right.Count, position);
                        EvalBudget.Produce((long)left.Count + right.Count, position);
                        var result = new object?[left.Count + right.Count];
                        for (var i = 0; i < left.Count; i++)
                        {
                            result[i] = left[i];
                        }

                        for (var i = 0; i < right.Count; i++)
                        {
                            result[left.Count + i] = right[i];
                        }

                        return Value.List(result);
                    }

                case ValueKind.Bytes:
                    CheckLength((long)a.BytesValue.Length + b.BytesValue.Length, position);
                    EvalBudget.Produce((long)a.BytesValue.Length + b.BytesValue.Length, position);
                    return Value.Bytes([.. a.BytesValue, .. b.BytesValue]);
            }
        }

        Errors.ThrowUnsupported("+", a, b, position);
        return default;
    }

    public static Value Subtract(in Value a, in Value b, int position)
    {
        if (a.IsSmallInt && b.IsSmallInt)
        {
            long x = a.IntValue, y = b.IntValue, r = x - y;
            return ((x ^ y) & (x ^ r)) < 0 ? Value.Integer((BigInteger)x - y) : Value.Int(r);
        }

        if (a.IsNumeric && b.IsNumeric)
        {
            if (a.Kind == ValueKind.Float || b.Kind == ValueKind.Float)
            {
                return Value.Float(ToDouble(a, position) - ToDouble(b, position));
            }

            EvalBudget.Scan(Words(a) + Words(b), position);
            return Value.Integer(a.ToBigInteger() - b.ToBigInteger());
        }

        Errors.ThrowUnsupported("-", a, b, position);
        return default;
    }

    public static Value Multiply(in Value a, in Value b, int position)
    {
        if (a.IsSmallInt && b.IsSmallInt)
        {
            long x = a.IntValue, y = b.IntValue;
            var high = Math.BigMul(x, y, out var low);
            return high != (low >> 63) ? Value.Integer((BigInteger)x * y) : Value.Int(low);
        }

        if (a.IsNumeric && b.IsNumeric)
        {
            if (a.Kind == ValueKind.Float || b.Kind == ValueKind.Float)
            {
                return Value.Float(ToDouble(a, position) * ToDouble(b, position));
            }

            EvalBudget.Scan(Words(a) * Words(b) / 64, position);
            return Value.Integer(a.ToBigInteger() * b.ToBigInteger());
        }

        if (b.IsInteger && a.Kind is ValueKind.String or ValueKind.List or ValueKind.Bytes)
        {
            return Repeat(a, b, position);
        }

        if (a.IsInteger && b.Kind is ValueKind.String or ValueKind.List or ValueKind.Bytes)
        {
            return Repeat(b, a, position);
        }

        Errors.ThrowUnsupported("*", a, b, position);
        return default;
    }

    private static Value Repeat(in Value sequence, in Value count, int position)
    {
        if (count.Kind == ValueKind.BigInt)
        {
            Errors.ThrowEval("cannot fit 'int' into an index-sized integer", position);
        }

        var n = count.IntValue;
        switch (sequence.Kind)
        {
            case ValueKind.String:
                {
                    var s = sequence.StringValue;
                    if (n <= 0 || s.Length == 0)
                    {
                        return Value.String(string.Empty);
                    }

                    if (n == 1)
                    {
                        return sequence;
                    }

                    CheckLength(s.Length * n, position, n);
                    EvalBudget.Produce(s.Length * n, position);
                    return Value.String(string.Create((int)(s.Length * n), s, static (span, text) =>
                    {
                        for (var i = 0; i < span.Length; i += text.Length)
                        {
                            text.AsSpan().CopyTo(span[i..]);
                        }
                    }));
                }

            case ValueKind.List:
                {
                    var list = sequence.ListValue;
                    if (n <= 0 || list.Count == 0)
                    {
                        return Value.List(Array.Empty<object?>());
                    }

                    CheckLength(list.Count * n, position, n);
                    EvalBudget.Produce(list.Count * n, position);
                    var result = new object?[list.Count * n];
                    for (var i = 0; i < result.Length; i++)
                    {
                        result[i] = list[i % list.Count];
                    }

                    return Value.List(result);
                }

            default:
                {
                    var bytes = sequence.BytesValue;
                    if (n <= 0 || bytes.Length == 0)
                    {
                        return Value.Bytes([]);
                    }

                    CheckLength(bytes.Length * n, position, n);
                    EvalBudget.Produce(bytes.Length * n, position);
                    var result = new byte[bytes.Length * n];
                    for (var i = 0; i < result.Length; i += bytes.Length)
                    {
                        bytes.CopyTo(result, i);
                    }

                    return Value.Bytes(result);
                }
        }
    }

    private static void CheckLength(long length, int position, long count = 1)
    {
        // count guards the multiplication length * count against overflow.
        if (count > ExpressionLimits.MaxSequenceLength || length > ExpressionLimits.MaxSequenceLength)
        {
            Errors.ThrowEval(
                "Result too large: more than " + ExpressionLimits.MaxSequenceLength.ToString(System.Globalization.CultureInfo.InvariantCulture) + " elements",
                position);
        }
    }

    public static Value Divide(in Value a, in Value b, int position)
    {
        if (IsZero(b))
        {
            Errors.ThrowEval("Division by zero", position);
        }

        if (a.IsNumeric && b.IsNumeric)
        {
            if (a.Kind == ValueKind.Float || b.Kind == ValueKind.Float)
            {
                return Value.Float(ToDouble(a, position) / ToDouble(b, position));
            }

            if (a.IsSmallInt && b.IsSmallInt)
            {
                long x = a.IntValue, y = b.IntValue;
                const long limit = 1L << 53;
                if (x is >= -limit and <= limit && y is >= -limit and <= limit)
                {
                    return Value.Float((double)x / y);
                }
            }

            EvalBudget.Scan(Words(a) + Words(b), position);
            return Value.Float(PyMath.TrueDivide(a.ToBigInteger(), b.ToBigInteger(), position));
        }

        Errors.ThrowUnsupported("/", a, b, position);
        return default;
    }

    /// <summary>
    /// Work of an integer operand in big-integer arithmetic: 64 units per 64-bit word (a word operation
    /// costs about as much as scanning 64 characters).
    /// </summary>
    private static long Words(in Value v) => v.Kind == ValueKind.BigInt ? ((v.BigValue.GetBitLength() / 64) + 1) * 64 : 64;

    /// <summary>Charges a scan of <paramref name="length"/> units; short scans are free (bounded by the node count).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScanLong(long length, int position)
    {
        if (length > EvalBudget.FreeScan)
        {
            EvalBudget.Scan(length, position);
        }
    }

    private static bool IsZero(in Value v) => v.Kind switch
    {
        ValueKind.Bool or ValueKind.Int => v.IntValue == 0,
        ValueKind.Float => v.FloatValue == 0.0,
        _ => false,
    };

    public static Value Negate(in Value a, int position)
    {
        switch (a.Kind)
        {
            case ValueKind.Bool:
            case ValueKind.Int:
                return a.IntValue == long.MinValue ? Value.Integer(-(BigInteger)a.IntValue) : Value.Int(-a.IntValue);
            case ValueKind.BigInt:
                return Value.Integer(-a.BigValue);
            case ValueKind.Float:
                return Value.Float(-a.FloatValue);
            default:
                Errors.ThrowEval("bad operand type for unary -: '" + a.TypeName + "'", position);
                return default;
        }
    }

    /// <summary>Python <c>==</c>.</summary>
    public static bool AreEqual(in Value a, in Value b)
    {
        if (a.IsSmallInt && b.IsSmallInt)
        {
            return a.IntValue == b.IntValue;
        }

        switch (a.Kind)
        {
            case ValueKind.Null:
                return b.Kind == ValueKind.Null;
            case ValueKind.String:
                if (b.Kind != ValueKind.String)
                {
                    return false;
                }

                if (a.StringValue.Length == b.StringValue.Length)
                {
                    ScanLong(a.StringValue.Length, -1);
                }

                return string.Equals(a.StringValue, b.StringValue, StringComparison.Ordinal);
            case ValueKind.Float:
                return b.Kind switch
                {
                    ValueKind.Float => a.FloatValue == b.FloatValue,
                    ValueKind.Bool or ValueKind.Int => !double.IsNaN(a.FloatValue) && PyMath.CompareIntFloat(b.IntValue, a.FloatValue) == 0,
                    ValueKind.BigInt => !double.IsNaN(a.FloatValue) && PyMath.CompareBigFloat(b.BigValue, a.FloatValue) == 0,
                    _ => false,
                };
            case ValueKind.Bool:
            case ValueKind.Int:
                return b.Kind == ValueKind.Float && !double.IsNaN(b.FloatValue) && PyMath.CompareIntFloat(a.IntValue, b.FloatValue) == 0;
            case ValueKind.BigInt:
                return b.Kind switch
                {
                    ValueKind.BigInt => a.BigValue == b.BigValue,
                    ValueKind.Float => !double.IsNaN(b.FloatValue) && PyMath.CompareBigFloat(a.BigValue, b.FloatValue) == 0,
                    _ => false,
                };
            case ValueKind.List:
                return b.Kind == ValueKind.List && ListEquals(a.ListValue, b.ListValue);
            case ValueKind.Bytes:
                if (b.Kind != ValueKind.Bytes)
                {
                    return false;
                }

                ScanLong(Math.Min(a.BytesValue.Length, b.BytesValue.Length), -1);
                return a.BytesValue.AsSpan().SequenceEqual(b.BytesValue);
            default:
                return false;
        }
    }

    private static bool ListEquals(IReadOnlyList<object?> a, IReadOnlyList<object?> b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a.Count != b.Count)
        {
            return false;
        }

        ScanLong(a.Count, -1);

        for (var i = 0; i < a.Count; i++)
        {
            if (!ElementEquals(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool ElementEquals(object? x, object? y)
    {
        if (ReferenceEquals(x, y))
        {
            return true; // Python's identity shortcut in list comparison and `in`
        }

        if (Value.TryFromObject(x, out var vx) && Value.TryFromObject(y, out var vy))
        {
            return AreEqual(vx, vy);
        }

        return Equals(x, y);
    }

    /// <summary>Python <c>&lt; &gt; &lt;= &gt;=</c>; mismatched kinds (including null) are errors.</summary>
    public static bool Order(CompareOp op, in Value a, in Value b, int position)
    {
        if (a.IsSmallInt && b.IsSmallInt)
        {
            return Apply(op, a.IntValue.CompareTo(b.IntValue));
        }

        if (a.IsNumeric && b.IsNumeric)
        {
            int cmp;
            if (a.Kind == ValueKind.Float || b.Kind == ValueKind.Float)
            {
                if ((a.Kind == ValueKind.Float && double.IsNaN(a.FloatValue))
                    || (b.Kind == ValueKind.Float && double.IsNaN(b.FloatValue)))
                {
                    return false;
                }

                cmp = CompareWithFloat(a, b);
            }
            else
            {
                cmp = a.ToBigInteger().CompareTo(b.ToBigInteger());
            }

            return Apply(op, cmp);
        }

        if (a.Kind == b.Kind)
        {
            switch (a.Kind)
            {
                case ValueKind.String:
                    ScanLong(Math.Min(a.StringValue.Length, b.StringValue.Length), position);
                    return Apply(op, PyText.CompareCodePoints(a.StringValue, b.StringValue));
                case ValueKind.Bytes:
                    ScanLong(Math.Min(a.BytesValue.Length, b.BytesValue.Length), position);
                    return Apply(op, a.BytesValue.AsSpan().SequenceCompareTo(b.BytesValue));
                case ValueKind.List:
                    ScanLong(Math.Min(a.ListValue.Count, b.ListValue.Count), position);
                    return ListOrder(op, a.ListValue, b.ListValue, position);
            }
        }

        Errors.ThrowNotOrderable(Symbol(op), a, b, position);
        return false;
    }

    private static int CompareWithFloat(in Value a, in Value b)
    {
        if (a.Kind == ValueKind.Float && b.Kind == ValueKind.Float)
        {
            var x = a.FloatValue;
            var y = b.FloatValue;
            return x < y ? -1 : x > y ? 1 : 0;
        }

        if (a.Kind == ValueKind.Float)
        {
            return -CompareIntegerWithFloat(b, a.FloatValue);
        }

        return CompareIntegerWithFloat(a, b.FloatValue);
    }

    private static int CompareIntegerWithFloat(in Value integer, double d) =>
        integer.Kind == ValueKind.BigInt
            ? PyMath.CompareBigFloat(integer.BigValue, d)
            : PyMath.CompareIntFloat(integer.IntValue, d);

    private static bool ListOrder(CompareOp op, IReadOnlyList<object?> a, IReadOnlyList<object?> b, int position)
    {
        var n = Math.Min(a.Count, b.Count);
        for (var i = 0; i < n; i++)
        {
            if (!ElementEquals(a[i], b[i]))
            {
                if (!Value.TryFromObject(a[i], out var x) || !Value.TryFromObject(b[i], out var y))
                {
                    Errors.ThrowEval("'" + Symbol(op) + "' not supported between these list elements", position);
                    return false;
                }

                return Order(op, x, y, position);
            }
        }

        return Apply(op, a.Count.CompareTo(b.Count));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Apply(CompareOp op, int cmp) => op switch
    {
        CompareOp.Less => cmp < 0,
        CompareOp.Greater => cmp > 0,
        CompareOp.LessOrEqual => cmp <= 0,
        _ => cmp >= 0,
    };

    /// <summary><c>a CONTAINS b</c>: substring test when <paramref name="a"/> is a string, else false.</summary>
    public static bool Contains(in Value a, in Value b, int position)
    {
        if (a.Kind != ValueKind.String)
        {
            return false;
        }

        if (b.Kind != ValueKind.String)
        {
            Errors.ThrowEval("'in <string>' requires string as left operand, not " + b.TypeName, position);
        }

        // A substring search costs up to len(a) * (1 + len(b) / 16) character comparisons (vectorised).
        var hay = a.StringValue;
        var needle = b.StringValue;
        if (needle.Length <= hay.Length)
        {
            ScanLong((long)hay.Length * (1 + (needle.Length / 16)), position);
        }

        return hay.Contains(needle, StringComparison.Ordinal);
    }

    /// <summary><c>a STARTS_WITH b</c>: prefix test when <paramref name="a"/> is a string, else false.</summary>
    public static bool StartsWith(in Value a, in Value b, int position)
    {
        if (a.Kind != ValueKind.String)
        {
            return false;
        }

        if (b.Kind != ValueKind.String)
        {
            Errors.ThrowEval("startswith first arg must be str or a tuple of str, not " + b.TypeName, position);
        }

        ScanLong(Math.Min(a.StringValue.Length, b.StringValue.Length), position);
        return a.StringValue.StartsWith(b.StringValue, StringComparison.Ordinal);
    }

    /// <summary><c>a IN b</c>: list membership with <c>==</c> when <paramref name="b"/> is a list, else false.</summary>
    public static bool In(in Value a, in Value b)
    {
        if (b.Kind != ValueKind.List)
        {
            return false;
        }

        var list = b.ListValue;
        ScanLong(list.Count, -1);
        for (var i = 0; i < list.Count; i++)
        {
            if (Value.TryFromObject(list[i], out var v) && AreEqual(a, v))
            {
                return true;
            }
        }

        return false;
    }
}
