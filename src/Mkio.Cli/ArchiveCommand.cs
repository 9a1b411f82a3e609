using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Mkio.Model;
using Mkio.Storage;
using Mkio.Versioning;

namespace Mkio.Cli;

/// <summary>
/// <c>mkio archive [config] --older-than &lt;N&gt;d|h|m|&lt;ref&gt; [--table t] [--out dir] [--delete] [--dry-run] [--yes]</c>
/// (history mode, offline): the history rows of versioned tables whose <c>_mkio_ref</c> is before the cutoff — except
/// each live row's current version and the undone versions above it — go to one CSV per history table
/// (<c>&lt;hist&gt;_&lt;firstref&gt;_&lt;lastref&gt;.csv</c>, NULL as <c>\N</c>, a leading <c>\</c> doubled), fsynced; with
/// <c>--delete</c> exactly those rows are then removed, all in one transaction. <c>mkio restore</c> puts them back.
/// </summary>
internal static partial class ArchiveCommand
{
    public static Command Create()
    {
        var config = new Argument<string>("config") { Description = "The TOML config file.", DefaultValueFactory = _ => "mkio.toml" };
        var olderThan = new Option<string?>("--older-than") { Description = "History mode: cutoff 90d, 12h, 30m (before now, UTC) or a ref, taken verbatim." };
        var table = new Option<string?>("--table") { Description = "History mode: one versioned table (or its history table); default: all." };
        var output = new Option<string>("--out") { Description = "Directory for the CSV files (row mode: for the run directory).", DefaultValueFactory = _ => "." };
        var delete = new Option<bool>("--delete") { Description = "History mode: delete the archived history rows after the files are written and synced." };
        var pruneSource = new Option<bool>("--prune-source") { Description = "History mode: archive current versions too, and delete a live row whose whole history was archived and which equals its newest archived version (implies --delete)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would be archived; write and delete nothing." };
        var yes = new Option<bool>("--yes") { Description = "Do not ask before deleting." };
        var tables = new Option<string?>("--tables") { Description = "Row mode: the tables to archive, comma-separated (each with an 'archive' config)." };
        var group = new Option<string?>("--group") { Description = "Row mode: the tables of one archive group." };
        var all = new Option<bool>("--all") { Description = "Row mode: every table with an 'archive' config." };
        var cutoff = new Option<string?>("--cutoff") { Description = "Row mode: 90d, 12h, 30m (before now, UTC) or an ISO date-time, rendered in each table's format." };
        var cutoffLiteral = new Option<string?>("--cutoff-literal") { Description = "Row mode: the cutoff text, compared verbatim." };
        var command = new Command("archive", "Archive old history rows of versioned tables (--older-than), or old rows of tables (--tables, --group, --all), to CSV (server stopped).")
        {
            config, olderThan, table, output, delete, pruneSource, dryRun, yes, tables, group, all, cutoff, cutoffLiteral,
        };
        command.SetAction(p =>
        {
            var rowMode = p.GetValue(tables) is not null || p.GetValue(group) is not null || p.GetValue(all);
            var historyMode = p.GetValue(olderThan) is not null;
            if (rowMode == historyMode)
            {
                Console.Error.WriteLine(rowMode
                    ? "Error: --older-than (history) and --tables/--group/--all (rows) cannot be combined."
                    : "Error: give --older-than <N>d|h|m|<ref> (history) or --tables a,b | --group g | --all (rows).");
                return 1;
            }

            return historyMode
                ? Run(p.GetValue(config)!, p.GetValue(olderThan)!, p.GetValue(table), p.GetValue(output)!, p.GetValue(delete), p.GetValue(dryRun), p.GetValue(yes), Console.Out, Console.Error, p.GetValue(pruneSource))
                : RunRows(p.GetValue(config)!, new RowSelection(p.GetValue(tables), p.GetValue(group), p.GetValue(all)), p.GetValue(cutoff), p.GetValue(cutoffLiteral), p.GetValue(output)!, p.GetValue(dryRun), p.GetValue(yes), Console.Out, Console.Error);
        });
        return command;
    }

    public static Command CreateRestore()
    {
        var config = new Argument<string>("config") { Description = "The TOML config file." };
        var paths = new Argument<string[]>("path") { Description = "History archive CSV files or directories holding them, or row-archive run directories (with manifest.json).", Arity = ArgumentArity.OneOrMore };
        var tables = new Option<string?>("--tables") { Description = "Row archives: restore only these tables, comma-separated." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would be restored; change nothing." };
        var command = new Command("restore", "Put archived rows back (server stopped).") { config, paths, tables, dryRun };
        command.SetAction(p => Restore(p.GetValue(config)!, p.GetValue(paths)!, p.GetValue(dryRun), Console.Out, Console.Error, p.GetValue(tables)));
        return command;
    }

    [GeneratedRegex(@"^(\d+)([dhm])$")]
    private static partial Regex Relative();

    /// <summary>The cutoff ref: <c>N</c> days/hours/minutes before <paramref name="now"/> as a ref, or the text verbatim.</summary>
    public static string Cutoff(string text, DateTimeOffset now) =>
        RelativeTime(text, now) is { } time ? time.ToString("yyyyMMdd HH:mm:ss", CultureInfo.InvariantCulture) + ".000000000000" : text;

    /// <summary><c>N</c>d, <c>N</c>h or <c>N</c>m before <paramref name="now"/>, in UTC; null for any other text.</summary>
    private static DateTime? RelativeTime(string text, DateTimeOffset now)
    {
        var m = Relative().Match(text);
        if (!m.Success)
        {
            return null;
        }

        var n = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var span = m.Groups[2].Value switch { "d" => TimeSpan.FromDays(n), "h" => TimeSpan.FromHours(n), _ => TimeSpan.FromMinutes(n) };
        return (now - span).UtcDateTime;
    }

    public static int Run(string configPath, string olderThan, string? tableName, string outDir, bool delete, bool dryRun, bool yes, TextWriter stdout, TextWriter stderr, bool pruneSource = false)
    {
        delete |= pruneSource;
        return Offline(configPath, stderr, (model, connection) =>
        {
            List<TableModel> tables;
            try
            {
                tables = tableName is null ? [.. model.Tables.Where(t => t.Versioned)] : [HistoryReader.Resolve(model, tableName).HistoryOf!];
            }
            catch (ArgumentException)
            {
                stderr.WriteLine($"Error: table '{tableName}' is not versioned. Versioned tables: {string.Join(", ", model.Tables.Where(t => t.Versioned).Select(t => t.Name))}");
                return 1;
            }

            if (pruneSource && tables.FirstOrDefault(t => t.PrimaryKey.Length > 1) is { } composite)
            {
                stderr.WriteLine($"Error: --prune-source does not support the composite primary key of table '{composite.Name}' ({string.Join(", ", composite.PrimaryKey.Select(c => c.Name))}).");
                return 1;
            }

            if (delete && !dryRun && !yes && !Confirm($"  Delete the archived history rows of {string.Join(", ", tables.Select(t => t.History!.Name))}? [y/N] ", stdout))
            {
                stdout.WriteLine("  Archive cancelled.");
                return 1;
            }

            var cutoff = Cutoff(olderThan, TimeProvider.System.GetUtcNow());
            Directory.CreateDirectory(outDir);
            using var tx = connection.BeginTransaction();
            foreach (var table in tables)
            {
                var h = table.History!.Name;
                var pk = table.PrimaryKey.Select(c => c.Name).ToArray();
                var v = VersionedSchema.VersionColumn;
                // Versions at or above a live row's cursor stay, unless --prune-source archives whole chains.
                var live = pruneSource ? string.Empty : $" AND NOT EXISTS (SELECT 1 FROM {table.Name} AS b WHERE {VersionedSchema.KeyJoin(table, "b", "h")} AND h.{v} >= b.{v})";
                var rows = MkioDatabase.Query(connection, $"SELECT h.* FROM {h} AS h WHERE h.{MkioSchema.RefColumn} < $p1{live} ORDER BY {string.Join(", ", pk.Select(k => "h." + k))}, h.{v}", tx, cutoff);
                if (rows.Count == 0)
                {
                    stdout.WriteLine($"  {h}: no history rows before {cutoff}.");
                    continue;
                }

                var refs = rows.Select(r => r.TryGetValue(MkioSchema.RefColumn, out var x) ? x as string ?? string.Empty : string.Empty).Order(StringComparer.Ordinal).ToList();
                var file = Path.Combine(outDir, $"{h}_{FileRef(refs[0])}_{FileRef(refs[^1])}.csv");
                var prune = pruneSource ? PruneCandidates(connection, tx, table, rows) : [];
                if (dryRun)
                {
                    stdout.WriteLine($"  {h}: would archive {rows.Count} rows to {file}.");
                    if (pruneSource)
                    {
                        stdout.WriteLine($"  {table.Name}: would prune {prune.Count} live rows whose whole history would be archived.");
                    }

                    continue;
                }

                WriteCsv(file, rows);
                stdout.WriteLine($"  {h}: archived {rows.Count} rows to {file}.");
                if (delete)
                {
                    using var cmd = connection.CreateCommand();
                    cmd.Transaction = tx;
                    cmd.CommandText = $"DELETE FROM {h} WHERE {string.Join(" AND ", pk.Select((k, i) => $"{k} = $k{i}"))} AND {v} = $v";
                    var key = pk.Select((_, i) => cmd.Parameters.Add($"$k{i}", SqliteType.Text)).ToArray();
                    var version = cmd.Parameters.Add("$v", SqliteType.Integer);
                    var deleted = 0;
                    foreach (var r in rows)
                    {
                        for (var i = 0; i < pk.Length; i++)
                        {
                            r.TryGetValue(pk[i], out var k);
                            key[i].SqliteType = k is long ? SqliteType.Integer : k is double ? SqliteType.Real : SqliteType.Text;
                            key[i].Value = k ?? DBNull.Value;
                        }

                        r.TryGetValue(v, out var ver);
                        version.Value = ver;
                        deleted += cmd.ExecuteNonQuery();
                    }

                    stdout.WriteLine($"  {h}: deleted {deleted} archived rows.");
                }

                if (pruneSource)
                {
                    var pruned = 0;
                    foreach (var k in prune)
                    {
                        using var cmd = connection.CreateCommand();
                        cmd.Transaction = tx;
                        cmd.CommandText = $"DELETE FROM {table.Name} WHERE {pk[0]} = $k";
                        cmd.Parameters.AddWithValue("$k", k);
                        pruned += cmd.ExecuteNonQuery();
                    }

                    stdout.WriteLine($"  {table.Name}: pruned {pruned} live rows whose whole history was archived.");
                }
            }

            tx.Commit();
            return 0;
        });
    }

    /// <summary>
    /// The keys of live rows that <c>--prune-source</c> deletes: every version of the key is among <paramref name="rows"/>
    /// and the row equals the newest of them in <c>_mkio_version</c> and every recorded column.
    /// </summary>
    private static List<object> PruneCandidates(SqliteConnection connection, SqliteTransaction tx, TableModel table, List<Data.Row> rows)
    {
        var pk = table.PrimaryKey[0].Name;
        var v = VersionedSchema.VersionColumn;
        var keys = new List<object>();
        foreach (var chain in rows.GroupBy(r => r.TryGetValue(pk, out var k) ? k : null).Where(g => g.Key is not null))
        {
            var newest = chain.MaxBy(r => r.TryGetValue(v, out var x) ? Convert.ToInt64(x, CultureInfo.InvariantCulture) : 0)!;
            var total = (long)MkioDatabase.Query(connection, $"SELECT COUNT(*) FROM {table.History!.Name} WHERE {pk} = $p1", tx, chain.Key)[0][0]!;
            var live = MkioDatabase.Query(connection, $"SELECT * FROM {table.Name} WHERE {pk} = $p1", tx, chain.Key);
            if (total != chain.Count() || live.Count == 0)
            {
                continue;
            }

            var row = live[0];
            if (table.Recorded.Select(c => c.Name).Append(v).All(c => SameValue(row.TryGetValue(c, out var a) ? a : null, newest.TryGetValue(c, out var b) ? b : null)))
            {
                keys.Add(chain.Key!);
            }
        }

        return keys;
    }

    private static bool SameValue(object? a, object? b) =>
        a is byte[] x && b is byte[] y ? x.AsSpan().SequenceEqual(y) : Equals(a, b);

    public static int Restore(string configPath, string[] paths, bool dryRun, TextWriter stdout, TextWriter stderr, string? onlyTables = null)
    {
        return Offline(configPath, stderr, (model, connection) =>
        {
            var runs = paths.Where(p => File.Exists(Path.Combine(p, ManifestFile))).ToList();
            var files = paths.Except(runs).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*.csv").Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]).ToList();
            using var tx = connection.BeginTransaction();
            foreach (var run in runs)
            {
                if (RestoreRun(model, connection, tx, run, onlyTables, dryRun, stdout, stderr) != 0)
                {
                    return 1;
                }
            }

            foreach (var file in files)
            {
                var name = Path.GetFileName(file);
                var history = model.Tables.Where(t => t.Versioned).Select(t => t.History!)
                    .FirstOrDefault(h => name.StartsWith(h.Name + "_", StringComparison.Ordinal));
                if (history is null)
                {
                    stderr.WriteLine($"Error: {file} is not an archive of a versioned table's history.");
                    return 1;
                }

                var csv = CsvReader.Parse(File.ReadAllText(file, Encoding.UTF8));
                if (csv.Count == 0)
                {
                    continue;
                }

                var header = csv[0];
                var pk = history.HistoryOf!.PrimaryKey.Select(c => c.Name).ToArray();
                var (cmd, parameters) = InsertCommand(connection, tx, history.Name, header, replace: false);
                using var dispose = cmd;
                foreach (var row in csv.Skip(1))
                {
                    Bind(parameters, row);

                    try
                    {
                        cmd.ExecuteNonQuery();
                    }
                    catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
                    {
                        var k = string.Join(", ", pk.Select(c => row[Array.IndexOf(header, c)]));
                        var ver = row[Array.IndexOf(header, VersionedSchema.VersionColumn)];
                        stderr.WriteLine($"Error: {history.Name} already holds version {ver} of key {k}; nothing was restored.");
                        return 1;
                    }
                }

                stdout.WriteLine($"  {history.Name}: {(dryRun ? "would restore" : "restored")} {csv.Count - 1} rows from {file}.");
            }

            if (!dryRun)
            {
                tx.Commit();
            }

            return 0;
        });
    }

    /// <summary>Loads the config, takes ownership of the database file (refused while a server uses it) and runs <paramref name="action"/>.</summary>
    /// <summary>The refusal of <c>mkio archive</c>/<c>restore</c> for a PostgreSQL config.</summary>
    public const string PostgresNotSupported =
        "Error: mkio archive and mkio restore work on SQLite database files only; this config uses 'postgres'. Copy history out of PostgreSQL with psql \\copy or pg_dump instead.";

    private static int Offline(string configPath, TextWriter stderr, Func<MkioModel, SqliteConnection, int> action)
    {
        if (!File.Exists(configPath))
        {
            stderr.WriteLine($"Config file not found: {configPath}");
            return 1;
        }

        try
        {
            var model = ModelCompiler.Compile(DbUpdateCommand.LoadOptions(configPath));
            if (model.Options.Postgres is not null)
            {
                stderr.WriteLine(PostgresNotSupported);
                return 1;
            }

            if (model.InMemory)
            {
                stderr.WriteLine("Error: db_path is \":memory:\": there is no database file.");
                return 1;
            }

            var file = Path.GetFullPath(model.Options.DbPath);
            if (!File.Exists(file))
            {
                stderr.WriteLine($"Error: database file not found: {model.Options.DbPath}");
                return 1;
            }

            using var ownership = DatabaseLock.Acquire(file);
            using var connection = DbUpdateCommand.Open(file, SqliteOpenMode.ReadWrite);
            return action(model, connection);
        }
        catch (Exception ex) when (ex is MkioConfigurationException or MkioDatabaseInUseException or SqliteException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine(ex is MkioConfigurationException or MkioDatabaseInUseException ? ex.Message : $"Error: {ex.Message}");
            return 1;
        }
    }

    private static bool Confirm(string prompt, TextWriter stdout)
    {
        if (Console.IsInputRedirected)
        {
            stdout.WriteLine("  ERROR: deleting needs --yes when not run interactively.");
            return false;
        }

        stdout.Write(prompt);
        return string.Equals(Console.ReadLine()?.Trim(), "y", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A ref as part of a file name: space → <c>_</c>, <c>:</c> removed, <c>.</c> → <c>_</c>.</summary>
    public static string FileRef(string @ref) => @ref.Replace(' ', '_').Replace(":", string.Empty, StringComparison.Ordinal).Replace('.', '_');

    /// <summary>Writes the rows as CSV (header first; NULL as <c>\N</c>, a leading <c>\</c> doubled) and syncs the file to disk.</summary>
    private static void WriteCsv(string path, List<Data.Row> rows, Func<string[]>? header = null)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', (rows.Count > 0 ? rows[0].Schema.Names : header!()).Select(Quote)).Append("\r\n");
        foreach (var r in rows)
        {
            for (var i = 0; i < r.Count; i++)
            {
                if (i > 0)
                {
                    sb.Append(',');
                }

                sb.Append(Quote(Escape(r[i])));
            }

            sb.Append("\r\n");
        }

        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>A value as a CSV cell: NULL as <c>\N</c>, a BLOB as <c>\x</c> and hex digits, a text starting with <c>\</c> with it doubled.</summary>
    private static string Escape(object? value) => value switch
    {
        null => "\\N",
        string s => s.StartsWith('\\') ? "\\" + s : s,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        byte[] b => "\\x" + Convert.ToHexString(b),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
    };

    /// <summary>A CSV cell back as a value: null, a byte array (<c>\x…</c>) or the text.</summary>
    private static object? Unescape(string cell) =>
        cell == "\\N" ? null
        : cell.StartsWith("\\\\", StringComparison.Ordinal) ? cell[1..]
        : cell.StartsWith("\\x", StringComparison.Ordinal) ? Convert.FromHexString(cell.AsSpan(2))
        : cell;

    /// <summary>An INSERT (or INSERT OR REPLACE) of <paramref name="header"/>'s columns into <paramref name="table"/>, with one parameter per column.</summary>
    private static (SqliteCommand Command, SqliteParameter[] Parameters) InsertCommand(SqliteConnection connection, SqliteTransaction tx, string table, string[] header, bool replace)
    {
        var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"INSERT{(replace ? " OR REPLACE" : string.Empty)} INTO {table} ({string.Join(", ", header.Select(Storage.Migration.Sql.Quoted))}) VALUES ({string.Join(", ", header.Select((_, i) => "$c" + i.ToString(CultureInfo.InvariantCulture)))})";
        return (cmd, [.. header.Select((_, i) => cmd.Parameters.Add("$c" + i.ToString(CultureInfo.InvariantCulture), SqliteType.Text))]);
    }

    /// <summary>Binds one CSV row to an INSERT's parameters: NULL, BLOB or text (the column's affinity converts numbers).</summary>
    private static void Bind(SqliteParameter[] parameters, string[] row)
    {
        for (var i = 0; i < parameters.Length; i++)
        {
            var value = i < row.Length ? Unescape(row[i]) : null;
            parameters[i].SqliteType = value is byte[] ? SqliteType.Blob : SqliteType.Text;
            parameters[i].Value = value ?? DBNull.Value;
        }
    }

    private static string Quote(string cell) =>
        cell.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell;
}
