using System.Diagnostics.CodeAnalysis;
using System.Text;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;
using Tomlyn.Serialization;
using Tomlyn.Syntax;

namespace Mkio;

/// <summary>
/// Reads <c>mkio.toml</c> into <see cref="MkioOptions"/> (CONFIG.md). Only structure, value types, aliases and
/// source positions are handled here; problems are recorded in <see cref="MkioOptions.LoadDiagnostics"/> (never
/// thrown) and every key path read is mapped to its line and column in <see cref="MkioOptions.Locations"/>, so that
/// the model compiler can report semantic errors (unknown tables, bad op types…) at the right place.
/// </summary>
/// <remarks>
/// Parsing happens twice with Tomlyn: <see cref="SyntaxParser"/> (with semantic validation) collects every syntax
/// error with its position, since <see cref="TomlSerializer"/> stops at the first one; then, for a valid document,
/// <see cref="TomlSerializer"/> builds the <see cref="TomlTable"/> model, and its <see cref="TomlMetadataStore"/>
/// gives the span of every key. Values already present in the options (defaults, or an earlier file) are kept
/// unless the TOML sets them; tables, services and static routes are matched by name and updated in place.
/// </remarks>
internal static class TomlConfigLoader
{
    /// <summary>Reads the file (UTF-8) and applies it to <paramref name="options"/>.</summary>
    /// <param name="path">The TOML file.</param>
    /// <param name="options">The options to fill.</param>
    /// <exception cref="MkioConfigurationException">The file does not exist or cannot be read.</exception>
    public static void Apply(string path, MkioOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(path))
        {
            throw new MkioConfigurationException($"Config file not found: {path}");
        }

        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MkioConfigurationException($"Cannot read config file {path}: {ex.Message}", ex);
        }

        ApplyText(text, path, options);
    }

    /// <summary>Parses TOML text and applies it to <paramref name="options"/>.</summary>
    /// <param name="text">The TOML document.</param>
    /// <param name="sourceName">The file name used in locations and messages, or null.</param>
    /// <param name="options">The options to fill; problems go to its <see cref="MkioOptions.LoadDiagnostics"/>.</param>
    public static void ApplyText(string text, string? sourceName, MkioOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        if (sourceName is not null)
        {
            options.SourceName = sourceName;
        }

        if (TryParse(text, sourceName, options.LoadDiagnostics, out var root, out var metadata))
        {
            new TomlConfigReader(options, metadata, sourceName).ReadRoot(root);
        }
    }

    private static bool TryParse(
        string text,
        string? sourceName,
        List<ConfigDiagnostic> diagnostics,
        [NotNullWhen(true)] out TomlTable? root,
        [NotNullWhen(true)] out ITomlMetadataStore? metadata)
    {
        root = null;
        metadata = null;

        // Every syntax and semantic (duplicate key…) error, in file order, not just the first.
        var document = SyntaxParser.Parse(text, sourceName ?? "config", validate: true);
        var seen = new HashSet<(int, int, string)>();
        foreach (var d in document.Diagnostics
                     .OrderBy(d => d.Span.Start.Line)
                     .ThenBy(d => d.Span.Start.Column))
        {
            var line = d.Span.Start.Line + 1;
            var column = d.Span.Start.Column + 1;
            if (seen.Add((line, column, d.Message)))
            {
                var severity = d.Kind == DiagnosticMessageKind.Error ? ConfigSeverity.Error : ConfigSeverity.Warning;
                diagnostics.Add(new ConfigDiagnostic(severity, string.Empty, d.Message, new SourceLocation(sourceName, line, column)));
            }
        }

        if (document.HasErrors)
        {
            return false;
        }

        var store = new TomlMetadataStore();
        try
        {
            root = TomlSerializer.Deserialize<TomlTable>(text, new TomlSerializerOptions { MetadataStore = store, SourceName = sourceName });
        }
        catch (TomlException ex)
        {
            SourceLocation? location = ex.Line is { } l ? new SourceLocation(sourceName, l, ex.Column ?? 0) : null;
            diagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Error, string.Empty, ex.Message, location));
            return false;
        }

        if (root is null)
        {
            return false;
        }

        metadata = store;
        return true;
    }
}
