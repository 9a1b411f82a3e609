using System.Collections.Frozen;

namespace Mkio.Data;

/// <summary>
/// The ordered column names of a row. Shared by every row read from the same statement, so a
/// name lookup costs one frozen-dictionary probe and no allocation.
/// </summary>
internal sealed class RowSchema
{
    private readonly FrozenDictionary<string, int> _index;

    public RowSchema(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        Names = [.. names];
        var map = new Dictionary<string, int>(Names.Length, StringComparer.Ordinal);
        for (var i = 0; i < Names.Length; i++)
        {
            // SQLite allows duplicate result-column names; like Python's dict(row) the last one wins.
            map[Names[i]] = i;
        }

        _index = map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Column names in result order.</summary>
    public string[] Names { get; }

    public int Count => Names.Length;

    public bool TryGetIndex(string name, out int index) => _index.TryGetValue(name, out index);

    public int IndexOf(string name) => _index.TryGetValue(name, out var i) ? i : -1;

    /// <summary>True when both schemas list the same names in the same order.</summary>
    public bool SameAs(RowSchema other) =>
        ReferenceEquals(this, other) || Names.AsSpan().SequenceEqual(other.Names);
}
