using System.Runtime.CompilerServices;
using System.Text.Json;
using Mkio.Data;

namespace Mkio.Protocol.Json;

/// <summary>
/// The pre-encoded JSON property names of a <see cref="RowSchema"/>, built once per schema and
/// reused for every row serialized with it.
/// </summary>
/// <remarks>
/// Lookup is a thread-local "last schema" check (rows of one service share one schema, so this
/// almost always hits) and otherwise a lock-free <see cref="ConditionalWeakTable{TKey, TValue}"/>
/// probe, which lets schemas be collected with their names. When a schema repeats a column name, the
/// object gets one key per distinct name, at its first position, holding the row's value for that
/// name (the last column of that name, as <see cref="Row.TryGetValue"/> and Python's dict do).
/// </remarks>
internal sealed class RowJsonNames
{
    private static readonly ConditionalWeakTable<RowSchema, RowJsonNames> Table = new();

    [ThreadStatic]
    private static RowJsonNames? _lastUsed;

    private RowJsonNames(RowSchema schema)
    {
        Schema = schema;
        var names = schema.Names;
        var distinct = true;
        for (var i = 0; i < names.Length; i++)
        {
            if (schema.IndexOf(names[i]) != i)
            {
                distinct = false;
                break;
            }
        }

        if (distinct)
        {
            Names = new JsonEncodedText[names.Length];
            for (var i = 0; i < names.Length; i++)
            {
                Names[i] = WireJson.EncodeName(names[i]);
            }

            return;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var encoded = new List<JsonEncodedText>(names.Length);
        var indexes = new List<int>(names.Length);
        foreach (var name in names)
        {
            if (seen.Add(name))
            {
                encoded.Add(WireJson.EncodeName(name));
                indexes.Add(schema.IndexOf(name));
            }
        }

        Names = [.. encoded];
        ValueIndexes = [.. indexes];
    }

    public RowSchema Schema { get; }

    /// <summary>Encoded names in output order.</summary>
    public JsonEncodedText[] Names { get; }

    /// <summary>
    /// For each entry of <see cref="Names"/>, the index of its value in the row, or
    /// <see langword="null"/> when the schema has no repeated names (name <c>i</c> goes with value <c>i</c>).
    /// </summary>
    public int[]? ValueIndexes { get; }

    public static RowJsonNames For(RowSchema schema)
    {
        var last = _lastUsed;
        if (last is not null && ReferenceEquals(last.Schema, schema))
        {
            return last;
        }

        last = Table.GetValue(schema, static s => new RowJsonNames(s));
        _lastUsed = last;
        return last;
    }
}
