using System.Globalization;
using System.Numerics;

namespace Mkio.Expressions;

/// <summary>The built-in functions of §5 (IF is compiled as a special form by <see cref="Compiler"/>).</summary>
internal static class Builtins
{
    public static bool IsBuiltin(string upperName) =>
        upperName is "UPPER" or "LOWER" or "ROUND" or "ABS" or "COALESCE" or "IF";

    /// <summary>Compiles a call to a built-in other than IF; null if <paramref name="name"/> is not one.</summary>
    public static Evaluator? Compile(string name, Evaluator[] args, int position)
    {
        switch (name)
        {
            case "UPPER":
            case "LOWER":
                {
                    if (args.Length != 1)
                    {
                        return WrongArity(name, "exactly 1 argument", args, position);
                    }

                    var arg = args[0];
                    return name == "UPPER"
                        ? row => MapCase(arg(row), upper: true, position)
                        : row => MapCase(arg(row), upper: false, position);
                }

            case "ABS":
                {
                    if (args.Length != 1)
                    {
                        return WrongArity(name, "exactly 1 argument", args, position);
                    }

                    var arg = args[0];
                    return row => Abs(arg(row), position);
                }

            case "ROUND":
                {
                    if (args.Length is < 1 or > 2)
                    {
                        return WrongArity(name, "1 or 2 arguments", args, position);
                    }

                    var x = args[0];
                    if (args.Length == 1)
                    {
                        return row => Round(x(row), 0, position);
                    }

                    var n = args[1];
                    return row =>
                    {
                        var xv = x(row);
                        var digits = ToDigits(n(row), position);
                        return Round(xv, digits, position);
                    };
                }

            case "COALESCE":
                {
                    if (args.Length == 0)
                    {
                        return static _ => Value.Null;
                    }

                    return row =>
                    {
                        var result = Value.Null;
                        var found = false;
                        foreach (var arg in args)
                        {
                            var v = arg(row); // every argument is evaluated (errors propagate)
                            if (!found && !v.IsNull)
                            {
                                result = v;
                                found = true;
                            }
                        }

                        return result;
                    };
                }

            default:
                return null;
        }
    }

    /// <summary>UPPER/LOWER: a new string of about the same length, drawn from the budget first (special cases may grow it up to 3×).</summary>
    private static Value MapCase(in Value v, bool upper, int position)
    {
        if (v.Kind != ValueKind.String)
        {
            return v;
        }

        var s = v.StringValue;
        EvalBudget.Produce(s.Length, position);
        var mapped = upper ? PyText.Upper(s) : PyText.Lower(s);
        if (mapped.Length > s.Length)
        {
            EvalBudget.Produce(mapped.Length - s.Length, position);
        }

        return Value.String(mapped);
    }

    /// <summary>Evaluates all arguments (as the reference does before calling), then fails on the count.</summary>
    private static Evaluator WrongArity(string name, string expected, Evaluator[] args, int position) => row =>
    {
        foreach (var arg in args)
        {
            arg(row);
        }

        Errors.ThrowEval(
            name + "() takes " + expected + " (" + args.Length.ToString(CultureInfo.InvariantCulture) + " given)",
            position);
        return default;
    };

    private static Value Abs(in Value v, int position)
    {
        switch (v.Kind)
        {
            case ValueKind.Bool:
            case ValueKind.Int:
                return v.IntValue == long.MinValue ? Value.Integer(BigInteger.Abs(v.IntValue)) : Value.Int(Math.Abs(v.IntValue));
            case ValueKind.BigInt:
                return Value.Integer(BigInteger.Abs(v.BigValue));
            case ValueKind.Float:
                return Value.Float(Math.Abs(v.FloatValue));
            default:
                Errors.ThrowEval("bad operand type for abs(): '" + v.TypeName + "'", position);
                return default;
        }
    }

    private static Value Round(in Value x, long digits, int position)
    {
        switch (x.Kind)
        {
            case ValueKind.Bool:
            case ValueKind.Int:
                if (digits >= 0)
                {
                    return Value.Int(x.IntValue);
                }

                return Value.Integer(PyMath.RoundInteger(x.IntValue, digits));
            case ValueKind.BigInt:
                return Value.Integer(PyMath.RoundInteger(x.BigValue, digits));
            case ValueKind.Float:
                return Value.Float(PyMath.RoundFloat(x.FloatValue, digits, position));
            default:
                Errors.ThrowEval("type " + x.TypeName + " doesn't define __round__ method", position);
                return default;
        }
    }

    /// <summary>Python <c>int(n)</c> for ROUND's second argument (clamped to the long range).</summary>
    private static long ToDigits(in Value n, int position)
    {
        switch (n.Kind)
        {
            case ValueKind.Bool:
            case ValueKind.Int:
                return n.IntValue;
            case ValueKind.BigInt:
                return n.BigValue.Sign < 0 ? long.MinValue : long.MaxValue;
            case ValueKind.Float:
                {
                    var d = n.FloatValue;
                    if (double.IsNaN(d))
                    {
                        Errors.ThrowEval("cannot convert float NaN to integer", position);
                    }

                    if (double.IsInfinity(d))
                    {
                        Errors.ThrowEval("cannot convert float infinity to integer", position);
                    }

                    var t = Math.Truncate(d);
                    return t >= 9223372036854775807.0 ? long.MaxValue : t <= -9223372036854775808.0 ? long.MinValue : (long)t;
                }

            case ValueKind.String:
                return ParsePythonInt(n.StringValue, position);
            default:
                Errors.ThrowEval("int() argument must be a string, a bytes-like object or a real number, not '" + n.TypeName + "'", position);
                return 0;
        }
    }

    private static long ParsePythonInt(string text, int position)
    {
        var s = text.AsSpan().Trim();
        var body = s;
        if (body.Length > 0 && (body[0] == '+' || body[0] == '-'))
        {
            body = body[1..];
        }

        var valid = body.Length > 0 && char.IsAsciiDigit(body[0]) && char.IsAsciiDigit(body[^1]);
        for (var i = 1; valid && i < body.Length; i++)
        {
            valid = char.IsAsciiDigit(body[i]) || (body[i] == '_' && char.IsAsciiDigit(body[i - 1]));
        }

        if (!valid)
        {
            Errors.ThrowEval("invalid literal for int() with base 10: " + PyText.Repr(text), position);
        }

        var digits = s.ToString().Replace("_", string.Empty, StringComparison.Ordinal);
        var big = BigInteger.Parse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return big < long.MinValue ? long.MinValue : big > long.MaxValue ? long.MaxValue : (long)big;
    }
}
