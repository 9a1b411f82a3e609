using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Mkio.Expressions;

/// <summary>The kind of an expression value (Python type in the reference).</summary>
internal enum ValueKind : byte
{
    /// <summary>None / SQL NULL.</summary>
    Null,

    /// <summary>bool; behaves as the integers 1 / 0 in arithmetic.</summary>
    Bool,

    /// <summary>int within signed 64-bit range.</summary>
    Int,

    /// <summary>int outside signed 64-bit range (never holds a value that fits in a long).</summary>
    BigInt,

    /// <summary>float (IEEE double).</summary>
    Float,

    /// <summary>str.</summary>
    String,

    /// <summary>list (<see cref="IReadOnlyList{T}"/> of host objects).</summary>
    List,

    /// <summary>bytes (SQLite BLOB).</summary>
    Bytes,
}

/// <summary>
/// An expression value without boxing: a kind tag, 64 bits of payload (a long, a bool as 0/1, or the
/// bits of a double) and a reference (string, list, byte[] or boxed BigInteger). For values read from
/// a row the reference may also keep the row's original box of a long / double / bool, so that a
/// pass-through (<c>symbol = "symbol"</c>) returns it without boxing again.
/// </summary>
internal readonly struct Value
{
    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private readonly object? _ref;
    private readonly long _bits;

    private Value(ValueKind kind, long bits, object? reference)
    {
        Kind = kind;
        _bits = bits;
        _ref = reference;
    }

    public static Value Null => default;

    public static Value True => new(ValueKind.Bool, 1, null);

    public static Value False => new(ValueKind.Bool, 0, null);

    public ValueKind Kind { get; }

    public bool IsNull => Kind == ValueKind.Null;

    /// <summary>True for bool and 64-bit int (both carry their integer value in <see cref="IntValue"/>).</summary>
    public bool IsSmallInt => Kind is ValueKind.Int or ValueKind.Bool;

    /// <summary>True for bool, int (any size) and float.</summary>
    public bool IsNumeric => Kind is ValueKind.Bool or ValueKind.Int or ValueKind.BigInt or ValueKind.Float;

    /// <summary>True for bool and int (any size).</summary>
    public bool IsInteger => Kind is ValueKind.Bool or ValueKind.Int or ValueKind.BigInt;

    /// <summary>The integer value of a bool/int value.</summary>
    public long IntValue => _bits;

    public bool BoolValue => _bits != 0;

    public double FloatValue => BitConverter.Int64BitsToDouble(_bits);

    // The kind tag guarantees the reference's type, so no cast checks on the hot path.
    public BigInteger BigValue => Unsafe.Unbox<BigInteger>(_ref!);

    public string StringValue => Unsafe.As<string>(_ref!);

    public IReadOnlyList<object?> ListValue => Unsafe.As<IReadOnlyList<object?>>(_ref!);

    public byte[] BytesValue => Unsafe.As<byte[]>(_ref!);

    /// <summary>Python truthiness: null, false, 0, 0.0, "", empty list / bytes are falsy.</summary>
    public bool IsTruthy => Kind switch
    {
        ValueKind.Null => false,
        ValueKind.Bool or ValueKind.Int => _bits != 0,
        ValueKind.BigInt => true, // never zero: zero is always a small int
        ValueKind.Float => FloatValue != 0.0, // NaN is truthy, as in Python
        ValueKind.String => StringValue.Length != 0,
        ValueKind.List => ListValue.Count != 0,
        ValueKind.Bytes => BytesValue.Length != 0,
        _ => true,
    };

    /// <summary>Python type name, used in type-error messages.</summary>
    public string TypeName => Kind switch
    {
        ValueKind.Null => "NoneType",
        ValueKind.Bool => "bool",
        ValueKind.Int or ValueKind.BigInt => "int",
        ValueKind.Float => "float",
        ValueKind.String => "str",
        ValueKind.List => "list",
        ValueKind.Bytes => "bytes",
        _ => "object",
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Value Bool(bool b) => new(ValueKind.Bool, b ? 1 : 0, null);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Value Int(long l) => new(ValueKind.Int, l, null);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Value Float(double d) => new(ValueKind.Float, BitConverter.DoubleToInt64Bits(d), null);

    public static Value String(string s) => new(ValueKind.String, 0, s);

    public static Value List(IReadOnlyList<object?> list) => new(ValueKind.List, 0, list);

    public static Value Bytes(byte[] bytes) => new(ValueKind.Bytes, 0, bytes);

    /// <summary>An integer value; normalised to <see cref="ValueKind.Int"/> when it fits in a long.</summary>
    public static Value Integer(BigInteger b) =>
        b >= long.MinValue && b <= long.MaxValue ? Int((long)b) : new(ValueKind.BigInt, 0, b);

    /// <summary>The integer value of a bool/int value as a BigInteger.</summary>
    public BigInteger ToBigInteger() => Kind == ValueKind.BigInt ? BigValue : new BigInteger(_bits);

    /// <summary>
    /// Converts a row / host value. Accepts the kinds of the row contract (null, long, double, string,
    /// byte[], bool, BigInteger, IReadOnlyList&lt;object?&gt;) plus other CLR integers, float, decimal,
    /// char and non-generic lists. Returns false for anything else.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryFromObject(object? o, out Value value)
    {
        // The row contract's common kinds first, inlined into the field reader.
        if (o is null)
        {
            value = default;
            return true;
        }

        if (o.GetType() == typeof(long))
        {
            value = new(ValueKind.Int, Unsafe.Unbox<long>(o), o);
            return true;
        }

        if (o.GetType() == typeof(string))
        {
            value = new(ValueKind.String, 0, o);
            return true;
        }

        if (o.GetType() == typeof(double))
        {
            value = new(ValueKind.Float, BitConverter.DoubleToInt64Bits(Unsafe.Unbox<double>(o)), o);
            return true;
        }

        return TryFromOtherObject(o, out value);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryFromOtherObject(object o, out Value value)
    {
        switch (o)
        {
            case bool b:
                value = Bool(b);
                return true;
            case int i:
                value = Int(i);
                return true;
            case BigInteger bi:
                value = Integer(bi);
                return true;
            case byte[] bytes:
                value = Bytes(bytes);
                return true;
            case IReadOnlyList<object?> list:
                value = List(list);
                return true;
            case float f:
                value = Float(f);
                return true;
            case short sh:
                value = Int(sh);
                return true;
            case sbyte sb:
                value = Int(sb);
                return true;
            case byte by:
                value = Int(by);
                return true;
            case ushort us:
                value = Int(us);
                return true;
            case uint ui:
                value = Int(ui);
                return true;
            case ulong ul:
                value = Integer(ul);
                return true;
            case Int128 i128:
                value = Integer((BigInteger)i128);
                return true;
            case UInt128 u128:
                value = Integer((BigInteger)u128);
                return true;
            case decimal m:
                value = Float((double)m);
                return true;
            case Half h:
                value = Float((double)h);
                return true;
            case char c:
                value = String(c.ToString());
                return true;
            case IList nonGeneric:
                var copy = new object?[nonGeneric.Count];
                nonGeneric.CopyTo(copy, 0);
                value = List(copy);
                return true;
            default:
                value = default;
                return false;
        }
    }

    /// <summary>Boxes the value for formatter output / custom functions: long, double, bool, BigInteger, string, list, byte[] or null.</summary>
    public object? ToObject() => Kind switch
    {
        ValueKind.Null => null,
        ValueKind.Bool => _bits != 0 ? BoxedTrue : BoxedFalse,
        ValueKind.Int => _ref ?? _bits,
        ValueKind.Float => _ref ?? FloatValue,
        _ => _ref,
    };

    /// <summary>Debug / test display (Python-like).</summary>
    public override string ToString() => Kind switch
    {
        ValueKind.Null => "None",
        ValueKind.Bool => _bits != 0 ? "True" : "False",
        ValueKind.Int => _bits.ToString(CultureInfo.InvariantCulture),
        ValueKind.BigInt => BigValue.ToString(CultureInfo.InvariantCulture),
        ValueKind.Float => FloatValue.ToString("R", CultureInfo.InvariantCulture),
        ValueKind.String => PyText.Repr(StringValue),
        ValueKind.List => "[list of " + ListValue.Count.ToString(CultureInfo.InvariantCulture) + "]",
        ValueKind.Bytes => "b<" + BytesValue.Length.ToString(CultureInfo.InvariantCulture) + " bytes>",
        _ => "?",
    };
}
