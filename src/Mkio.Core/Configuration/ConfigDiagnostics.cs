namespace Mkio;

/// <summary>Where a configuration value was written: file, line and column (1-based).</summary>
internal readonly record struct SourceLocation(string? File, int Line, int Column)
{
    public override string ToString() =>
        Line > 0 ? $"{File ?? "config"}({Line},{Column})" : File ?? "config";
}

/// <summary>
/// Maps config paths (<c>services.orders.ops.new[1].bind.order_id</c>) to source locations.
/// Filled by the TOML loader; empty for code-first configs.
/// </summary>
internal sealed class ConfigSourceMap
{
    private readonly Dictionary<string, SourceLocation> _map = new(StringComparer.Ordinal);

    public void Set(string path, SourceLocation location) => _map[path] = location;

    /// <summary>The location of <paramref name="path"/>, or of its nearest recorded parent.</summary>
    public SourceLocation? Find(string path)
    {
        var p = path;
        while (true)
        {
            if (_map.TryGetValue(p, out var loc))
            {
                return loc;
            }

            var cut = Math.Max(p.LastIndexOf('.'), p.LastIndexOf('['));
            if (cut <= 0)
            {
                return null;
            }

            p = p[..cut];
        }
    }

    public int Count => _map.Count;
}

internal enum ConfigSeverity
{
    Error,
    Warning,
}

/// <summary>One problem found in a configuration: its path, message and (for TOML) location.</summary>
internal sealed record ConfigDiagnostic(ConfigSeverity Severity, string Path, string Message, SourceLocation? Location)
{
    public override string ToString()
    {
        var where = Location is { } l ? l + ": " : string.Empty;
        var path = Path.Length > 0 ? Path + ": " : string.Empty;
        return where + path + Message;
    }
}
