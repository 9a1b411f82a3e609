using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Serialization;

namespace Mkio;

/// <summary>
/// Walks a parsed <c>mkio.toml</c> (<see cref="TomlTable"/> model) and fills <see cref="MkioOptions"/>:
/// checks value types, resolves aliases, records the location of every key and collects diagnostics.
/// One instance per document; see <see cref="TomlConfigLoader"/>.
/// </summary>
internal sealed partial class TomlConfigReader
{
    private readonly MkioOptions _options;
    private readonly ITomlMetadataStore _metadata;
    private readonly string? _source;

    public TomlConfigReader(MkioOptions options, ITomlMetadataStore metadata, string? source)
    {
        _options = options;
        _metadata = metadata;
        _source = source;
    }

    /// <summary>One key of a TOML table: its value, full config path and where the key is written.</summary>
    private readonly record struct Entry(string Key, object? Value, string Path, SourceLocation? Location);

    /// <summary>The keys of <paramref name="table"/> in document order; records each key's location.</summary>
    private List<Entry> Entries(TomlTable table, string? prefix)
    {
        _metadata.TryGetProperties(table, out var properties);
        var entries = new List<Entry>(table.Count);
        foreach (var (key, value) in table)
        {
            var path = prefix is null ? key : prefix + "." + key;
            SourceLocation? location = null;
            if (properties is not null && properties.TryGetProperty(key, out var property) && property?.Span is { } span)
            {
                location = new SourceLocation(_source, span.Start.Line + 1, span.Start.Column + 1);
                _options.Locations.Set(path, location.Value);
            }

            entries.Add(new Entry(key, value, path, location));
        }

        return entries;
    }

    // ----- diagnostics -----

    private void Error(string path, string message, SourceLocation? location) =>
        _options.LoadDiagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Error, path, message, location));

    private void Error(Entry entry, string message) => Error(entry.Path, message, entry.Location);

    private void Warn(Entry entry, string message) =>
        _options.LoadDiagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Warning, entry.Path, message, entry.Location));

    private void TypeError(Entry entry, string expected) => Error(entry, $"expected {expected}, got {Describe(entry.Value)}");

    /// <summary>Warns about a key the level does not read: a later-version key, or a typo with a suggestion.</summary>
    private void Unknown(Entry entry, string[] known, FrozenSet<string> later)
    {
        if (later.Contains(entry.Key))
        {
            LaterKey(entry);
            return;
        }

        var suggestion = TomlConfigKeys.Suggest(entry.Key, known);
        Warn(entry, suggestion is null
            ? $"unknown key '{entry.Key}' (ignored)"
            : $"unknown key '{entry.Key}' (ignored); did you mean '{suggestion}'?");
    }

    private void LaterKey(Entry entry) =>
        Warn(entry, $"'{entry.Key}' belongs to a later mkio version and is not supported in this version (ignored)");

    /// <summary>How a value appears in messages: <c>string 'x'</c>, <c>integer 5</c>, <c>array</c>…</summary>
    internal static string Describe(object? value) => value switch
    {
        string s => $"string '{s}'",
        long l => "integer " + l.ToString(CultureInfo.InvariantCulture),
        double d => "float " + d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "boolean true" : "boolean false",
        TomlTableArray => "array of tables",
        TomlArray => "array",
        TomlTable => "table",
        TomlDateTime dt => FormattableString.Invariant($"date-time {dt}"),
        null => "nothing",
        _ => value.GetType().Name,
    };

    // ----- typed readers: each reports a type error and returns false on mismatch -----

    private bool TryString(Entry entry, [NotNullWhen(true)] out string? value)
    {
        value = entry.Value as string;
        if (value is null)
        {
            TypeError(entry, "a string");
        }

        return value is not null;
    }

    private bool TryInt(Entry entry, out int value)
    {
        value = 0;
        if (entry.Value is not long l)
        {
            TypeError(entry, "an integer");
            return false;
        }

        if (l is < int.MinValue or > int.MaxValue)
        {
            Error(entry, FormattableString.Invariant($"integer {l} is out of range ({int.MinValue} to {int.MaxValue})"));
            return false;
        }

        value = (int)l;
        return true;
    }

    private bool TryNumber(Entry entry, out double value)
    {
        switch (entry.Value)
        {
            case long l:
                value = l;
                return true;
            case double d:
                value = d;
                return true;
            default:
                value = 0;
                TypeError(entry, "a number");
                return false;
        }
    }

    private bool TryBool(Entry entry, out bool value)
    {
        if (entry.Value is bool b)
        {
            value = b;
            return true;
        }

        value = false;
        TypeError(entry, "a boolean");
        return false;
    }

    private bool TryTable(Entry entry, [NotNullWhen(true)] out TomlTable? table)
    {
        table = entry.Value as TomlTable;
        if (table is null)
        {
            TypeError(entry, "a table");
        }

        return table is not null;
    }

    /// <summary>An array of strings; a wrong element is reported at <c>path[i]</c>.</summary>
    private bool TryStringList(Entry entry, [NotNullWhen(true)] out List<string>? list)
    {
        list = null;
        if (entry.Value is not TomlArray array)
        {
            TypeError(entry, "an array of strings");
            return false;
        }

        var result = new List<string>(array.Count);
        var ok = true;
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is string s)
            {
                result.Add(s);
            }
            else
            {
                Error(FormattableString.Invariant($"{entry.Path}[{i}]"), $"expected a string, got {Describe(array[i])}", entry.Location);
                ok = false;
            }
        }

        if (ok)
        {
            list = result;
        }

        return ok;
    }

    /// <summary>A table whose values are all strings, in document order (columns, publish, bind…).</summary>
    private bool TryStringMap(Entry entry, [NotNullWhen(true)] out OrderedDictionary<string, string>? map)
    {
        map = null;
        if (!TryTable(entry, out var table))
        {
            return false;
        }

        var result = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        var ok = true;
        foreach (var item in Entries(table, entry.Path))
        {
            if (TryString(item, out var s))
            {
                result[item.Key] = s;
            }
            else
            {
                ok = false;
            }
        }

        if (ok)
        {
            map = result;
        }

        return ok;
    }

    /// <summary>The items of an array or array of tables, or null for any other value.</summary>
    private static IReadOnlyList<object?>? AsItems(object? value) => value switch
    {
        TomlTableArray tables => [.. tables],
        TomlArray array => [.. array],
        _ => null,
    };

    /// <summary>Converts a Tomlyn value to plain .NET data for <see cref="MkioServiceOptions.Extra"/>.</summary>
    /// <remarks>Tables become <see cref="OrderedDictionary{TKey,TValue}"/>, arrays <see cref="List{T}"/>, date-times their TOML text.</remarks>
    private static object? ToPlain(object? value) => value switch
    {
        TomlTable table => ToPlainTable(table),
        TomlTableArray tables => tables.Select(t => (object?)ToPlainTable(t)).ToList(),
        TomlArray array => array.Select(ToPlain).ToList(),
        TomlDateTime dt => FormattableString.Invariant($"{dt}"),
        _ => value,
    };

    private static OrderedDictionary<string, object?> ToPlainTable(TomlTable table)
    {
        var result = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in table)
        {
            result[key] = ToPlain(value);
        }

        return result;
    }
}
