using System.Globalization;
using Microsoft.Data.Sqlite;
using Mkio.Model;

namespace Mkio.Storage.Migration;

/// <summary>One column of an existing table, from <c>PRAGMA table_info</c> (SERVICES.md §15.1).</summary>
/// <param name="Name">The column name as stored.</param>
/// <param name="DeclaredType">The declared type, upper-cased (<c>DECIMAL(10, 2)</c>).</param>
/// <param name="NotNull">The <c>notnull</c> flag.</param>
/// <param name="Default">The default's SQL text, or null.</param>
/// <param name="PkPosition">1-based position in the primary key, or 0.</param>
internal sealed record LiveColumn(string Name, string DeclaredType, bool NotNull, string? Default, int PkPosition)
{
    /// <summary>
    /// The type compared with the config: the first word of the declared type, as CONFIG.md §3.2
    /// parses a definition (so <c>DECIMAL(10, 2)</c> compares as <c>DECIMAL(10,</c> on both sides).
    /// </summary>
    public string Type { get; } = DeclaredType.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries) is [var first, ..] ? first : string.Empty;
}

/// <summary>An explicit index (one with SQL text) of an existing table.</summary>
/// <param name="Name">The index name.</param>
/// <param name="Sql">Its <c>CREATE INDEX</c> statement.</param>
/// <param name="Columns">Indexed column names; null when the index has expression terms.</param>
internal sealed record LiveIndex(string Name, string Sql, IReadOnlyList<string>? Columns);

/// <summary>An existing table: its columns in table order and what a rebuild must carry over.</summary>
internal sealed class LiveTable
{
    public LiveTable(string name, string? sql, IReadOnlyList<LiveColumn> columns, IReadOnlyList<LiveIndex> indexes, long? autoIncrementSequence)
    {
        Name = name;
        Columns = columns;
        Indexes = indexes;
        AutoIncrementSequence = autoIncrementSequence;
        HasRowId = sql is null || !sql.Contains("WITHOUT ROWID", StringComparison.OrdinalIgnoreCase);
    }

    public string Name { get; }

    /// <summary>Every column, <c>_mkio_ref</c> included, in table order.</summary>
    public IReadOnlyList<LiveColumn> Columns { get; }

    /// <summary>The columns migration compares: all but <c>_mkio_ref</c> and <c>_mkio_version</c>.</summary>
    public IEnumerable<LiveColumn> UserColumns => Columns.Where(c => !IsRefColumn(c.Name) && !IsVersionColumn(c.Name));

    /// <summary>The <c>_mkio_version</c> cursor of a versioned table, invisible to the diff like <c>_mkio_ref</c>.</summary>
    public bool HasVersionColumn => Columns.Any(c => IsVersionColumn(c.Name));

    public static bool IsVersionColumn(string name) => string.Equals(name, Versioning.VersionedSchema.VersionColumn, StringComparison.OrdinalIgnoreCase);

    public bool HasRefColumn => Columns.Any(c => IsRefColumn(c.Name));

    /// <summary>Primary-key columns ordered by their position in the key.</summary>
    public IEnumerable<LiveColumn> PrimaryKey => UserColumns.Where(c => c.PkPosition > 0).OrderBy(c => c.PkPosition);

    public IReadOnlyList<LiveIndex> Indexes { get; }

    /// <summary>The table's <c>sqlite_sequence</c> value (AUTOINCREMENT counter), or null.</summary>
    public long? AutoIncrementSequence { get; }

    /// <summary>False for a <c>WITHOUT ROWID</c> table.</summary>
    public bool HasRowId { get; }

    public LiveColumn? Find(string name) => Columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));

    public static bool IsRefColumn(string name) => string.Equals(name, MkioSchema.RefColumn, StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// The schema of an existing database as migration sees it (SERVICES.md §15.1): every table of
/// <c>sqlite_master</c> except SQLite's own (<c>sqlite_*</c>) and mkio's internal ones (<c>_mkio*</c>,
/// e.g. the change journal), in creation order. SQLite identifiers are case-insensitive, and so are
/// the look-ups here.
/// </summary>
internal sealed class LiveSchema
{
    private readonly Dictionary<string, LiveTable> _byName;

    private LiveSchema(IReadOnlyList<LiveTable> tables, IReadOnlySet<string> objectNames, bool hasJournal)
    {
        Tables = tables;
        ObjectNames = objectNames;
        HasJournal = hasJournal;
        _byName = tables.ToDictionary(t => t.Name, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>A schema read from another store (PostgreSQL).</summary>
    public static LiveSchema Create(IReadOnlyList<LiveTable> tables, IReadOnlySet<string> objectNames, bool hasJournal) => new(tables, objectNames, hasJournal);

    /// <summary>An empty database (or a file that does not exist yet).</summary>
    public static LiveSchema Empty { get; } = new([], new HashSet<string>(StringComparer.OrdinalIgnoreCase), false);

    /// <summary>The user tables, in creation order.</summary>
    public IReadOnlyList<LiveTable> Tables { get; }

    /// <summary>Every name in <c>sqlite_master</c> (tables, indexes, views, triggers), internal ones included.</summary>
    public IReadOnlySet<string> ObjectNames { get; }

    /// <summary>Whether the change journal table exists.</summary>
    public bool HasJournal { get; }

    public LiveTable? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>True for the names migration never touches (the built-in auth tables are configured tables, so not internal).</summary>
    public static bool IsInternal(string table) =>
        table.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase)
        || table.EndsWith(Versioning.VersionedSchema.HistorySuffix, StringComparison.OrdinalIgnoreCase)
        || (table.StartsWith("_mkio", StringComparison.OrdinalIgnoreCase)
            && !table.Equals(Security.AccessControl.UsersTable, StringComparison.Ordinal)
            && !table.Equals(Security.AccessControl.RightsTable, StringComparison.Ordinal));

    public static LiveSchema Read(SqliteConnection connection)
    {
        var objects = new List<(string Type, string Name, string? Table, string? Sql)>();
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                objects.Add((r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3)));
            }
        }

        var names = new HashSet<string>(objects.Select(o => o.Name), StringComparer.OrdinalIgnoreCase);
        var sequences = names.Contains("sqlite_sequence") ? ReadSequences(connection) : new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        var tables = new List<LiveTable>();
        foreach (var (type, name, _, sql) in objects)
        {
            if (type != "table" || IsInternal(name))
            {
                continue;
            }

            var indexes = objects
                .Where(o => o.Type == "index" && o.Sql is not null && string.Equals(o.Table, name, StringComparison.OrdinalIgnoreCase))
                .Select(o => new LiveIndex(o.Name, o.Sql!, ReadIndexColumns(connection, o.Name)))
                .ToList();
            tables.Add(new LiveTable(name, sql, ReadColumns(connection, name), indexes, sequences.TryGetValue(name, out var seq) ? seq : null));
        }

        return new LiveSchema(tables, names, names.Contains(ChangeJournal.TableName));
    }

    /// <summary>Number of rows of <paramref name="table"/>.</summary>
    public static long CountRows(SqliteConnection connection, string table)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"SELECT COUNT(*) FROM {Sql.Quoted(table)}";
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static List<LiveColumn> ReadColumns(SqliteConnection connection, string table)
    {
        var columns = new List<LiveColumn>();
        using var cmd = connection.CreateCommand();
        // table_info as the spec says, plus generated columns (table_xinfo hidden 2/3), which
        // table_info leaves out; hidden 1 (virtual-table columns) stays out.
        cmd.CommandText = $"PRAGMA table_xinfo({Sql.Quoted(table)})";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (r.GetInt64(6) == 1)
            {
                continue;
            }

            columns.Add(new LiveColumn(
                r.GetString(1),
                r.IsDBNull(2) ? string.Empty : r.GetString(2).ToUpperInvariant(),
                r.GetInt64(3) != 0,
                r.IsDBNull(4) ? null : r.GetString(4),
                (int)r.GetInt64(5)));
        }

        return columns;
    }

    private static List<string>? ReadIndexColumns(SqliteConnection connection, string index)
    {
        var columns = new List<string>();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"PRAGMA index_info({Sql.Quoted(index)})";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (r.IsDBNull(2))
            {
                return null;
            }

            columns.Add(r.GetString(2));
        }

        return columns;
    }

    private static Dictionary<string, long> ReadSequences(SqliteConnection connection)
    {
        var result = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT name, seq FROM sqlite_sequence";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            if (!r.IsDBNull(0) && !r.IsDBNull(1))
            {
                result[r.GetString(0)] = r.GetInt64(1);
            }
        }

        return result;
    }
}

/// <summary>Identifier and literal text for migration SQL.</summary>
internal static class Sql
{
    /// <summary>
    /// The name as the reference writes it (unquoted, SERVICES.md §3.6) when it is a plain
    /// identifier; double-quoted otherwise (tables created by other tools).
    /// </summary>
    public static string Identifier(string name) => ModelCompiler.IsPlainIdentifier(name) ? name : Quoted(name);

    public static string Quoted(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
}
