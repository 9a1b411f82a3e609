namespace Mkio.Data;

/// <summary>
/// One row: an ordered map of column name to value. Values read from SQLite keep their storage
/// class: <see langword="null"/>, <see cref="long"/>, <see cref="double"/>, <see cref="string"/> or
/// <c>byte[]</c>. Rows produced by a <c>publish</c> formatter may also hold
/// <see cref="bool"/>, <see cref="System.Numerics.BigInteger"/> and lists
/// (<see cref="IReadOnlyList{T}"/> of <see cref="object"/>).
/// Rows are immutable once built; they are shared between services and subscribers.
/// </summary>
internal sealed class Row
{
    private readonly object?[] _values;

    public Row(RowSchema schema, object?[] values)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != schema.Count)
        {
            throw new ArgumentException($"Row has {values.Length} values for {schema.Count} columns.", nameof(values));
        }

        Schema = schema;
        _values = values;
    }

    public RowSchema Schema { get; }

    /// <summary>
    /// The row's wire JSON, serialised once by the first service that sends it and reused by every other service
    /// fanning out the same committed row. Set without a lock: two services racing both compute the same bytes.
    /// </summary>
    public byte[]? EncodedJson { get; set; }

    public int Count => _values.Length;

    public ReadOnlySpan<object?> Values => _values;

    public object? this[int index] => _values[index];

    public string Name(int index) => Schema.Names[index];

    public bool TryGetValue(string name, out object? value)
    {
        if (Schema.TryGetIndex(name, out var i))
        {
            value = _values[i];
            return true;
        }

        value = null;
        return false;
    }

    public bool ContainsKey(string name) => Schema.TryGetIndex(name, out _);
}
