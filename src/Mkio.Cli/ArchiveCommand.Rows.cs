using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Mkio.Model;
using Mkio.Storage;
using Mkio.Versioning;

namespace Mkio.Cli;

/// <summary>
/// Row mode of <c>mkio archive</c> (offline): the rows of tables with an <c>archive = {cutoff, format, group, with}</c>
/// config whose cutoff column is before the rendered cutoff (the whole table without <c>cutoff</c>), with their
/// companion rows and, for a versioned table, their history chains, go to a run directory
/// (<c>&lt;name or db stem&gt;_&lt;UTC yyyyMMdd-HHmmss&gt;</c>: one CSV per table, companion and history chain, and
/// <c>manifest.json</c>), every file fsynced; then all those rows are deleted in one transaction.
/// <c>mkio restore &lt;config&gt; &lt;run dir&gt;</c> puts them back.
/// </summary>
internal static partial class ArchiveCommand
{
    /// <summary>The run directory's description of what it holds.</summary>
    public const string ManifestFile = "manifest.json";

    /// <summary>Which tables a row archive takes: <c>--tables a,b</c>, <c>--group g</c> or <c>--all</c>.</summary>
    public sealed record RowSelection(string? Tables, string? Group, bool All);

    /// <summary>One archived table of a run: its rows, companions and history chain, each as a file.</summary>
    private sealed record RunEntry(string Table, string Key, string? CutoffColumn, string? Cutoff, List<RunFile> Files);

    /// <summary>One CSV of a run: the table its rows came from and how many.</summary>
    private sealed record RunFile(string Table, string Role, string File, int Rows);

    public static int RunRows(string configPath, RowSelection selection, string? cutoffText, string? cutoffLiteral, string outDir, bool dryRun, bool yes, TextWriter stdout, TextWriter stderr)
    {
        if (configPath.Contains("://", StringComparison.Ordinal))
        {
            stderr.WriteLine("Error: row archives run offline here: stop the server and pass its config file.");
            return 1;
        }

        if (cutoffText is not null && cutoffLiteral is not null)
        {
            stderr.WriteLine("Error: --cutoff and --cutoff-literal cannot be combined.");
            return 1;
        }

        return Offline(configPath, stderr, (model, connection) =>
        {
            var archived = model.Options.Tables.Where(t => t.Archive is not null).ToList();
            var names = string.Join(", ", archived.Select(t => t.Name));
            List<MkioTableOptions> chosen;
            if (selection.All)
            {
                chosen = archived;
            }
            else if (selection.Group is { } group)
            {
                chosen = [.. archived.Where(t => t.Archive!.Group == group)];
                if (chosen.Count == 0)
                {
                    stderr.WriteLine($"Error: no table is in archive group '{group}'. Groups: {string.Join(", ", archived.Select(t => t.Archive!.Group).Distinct())}");
                    return 1;
                }
            }
            else
            {
                chosen = [];
                foreach (var name in selection.Tables!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var t = archived.Find(x => x.Name == name);
                    if (t is null)
                    {
                        stderr.WriteLine($"Error: table '{name}' has no archive config. Archived tables: {names}");
                        return 1;
                    }

                    chosen.Add(t);
                }
            }

            if (chosen.Count == 0)
            {
                stderr.WriteLine("Error: no table has an archive config (archive = {cutoff = \"<column>\"}).");
                return 1;
            }

            var now = TimeProvider.System.GetUtcNow();
            var cutoffs = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var t in chosen)
            {
                if (t.Archive!.Cutoff is null)
                {
                    cutoffs[t.Name] = null;
                }
                else if (cutoffLiteral is not null)
                {
                    cutoffs[t.Name] = cutoffLiteral;
                }
                else if (cutoffText is null)
                {
                    stderr.WriteLine($"Error: table '{t.Name}' is archived by '{t.Archive.Cutoff}': give --cutoff <N>d|h|m|<ISO date-time> or --cutoff-literal <text>.");
                    return 1;
                }
                else if (CutoffTime(cutoffText, now) is not { } time)
                {
                    stderr.WriteLine($"Error: --cutoff '{cutoffText}' is neither <N>d, <N>h, <N>m nor an ISO date-time.");
                    return 1;
                }
                else
                {
                    try
                    {
                        cutoffs[t.Name] = Strftime(t.Archive.Format, time);
                    }
                    catch (FormatException ex)
                    {
                        stderr.WriteLine($"Error: table '{t.Name}': {ex.Message}");
                        return 1;
                    }
                }
            }

            if (!dryRun && !yes && !Confirm($"  Archive and delete rows of {string.Join(", ", chosen.Select(t => t.Name))}? [y/N] ", stdout))
            {
                stdout.WriteLine("  Archive cancelled.");
                return 1;
            }

            var stem = string.IsNullOrEmpty(model.Options.Name) ? Path.GetFileNameWithoutExtension(model.Options.DbPath) : model.Options.Name;
            var run = Path.Combine(outDir, $"{stem}_{now.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
            if (!dryRun)
            {
                if (Directory.Exists(run))
                {
                    stderr.WriteLine($"Error: {run} already exists.");
                    return 1;
                }

                Directory.CreateDirectory(run);
            }

            using var tx = connection.BeginTransaction();
            var entries = new List<RunEntry>();
            var deletes = new List<(string Sql, string? Cutoff)>();
            foreach (var t in chosen)
            {
                var table = model.TablesByName[t.Name];
                var key = table.PrimaryKey[0].Name;
                var cutoff = cutoffs[t.Name];
                var where = cutoff is null ? string.Empty : $" WHERE {t.Archive!.Cutoff} < $p1";
                var keys = $"SELECT {key} FROM {t.Name}{where}";
                var parts = new List<(string Table, string Role, string Select, string Delete)>
                {
                    (t.Name, "table", $"SELECT * FROM {t.Name}{where} ORDER BY {key}", $"DELETE FROM {t.Name}{where}"),
                };
                foreach (var w in t.Archive!.With)
                {
                    parts.Add((w, "with", $"SELECT * FROM {w} WHERE {key} IN ({keys}) ORDER BY {key}", $"DELETE FROM {w} WHERE {key} IN ({keys})"));
                }

                if (table.History is { } h)
                {
                    parts.Add((h.Name, "history", $"SELECT * FROM {h.Name} WHERE {key} IN ({keys}) ORDER BY {key}, {VersionedSchema.VersionColumn}", $"DELETE FROM {h.Name} WHERE {key} IN ({keys})"));
                }

                var files = new List<RunFile>();
                foreach (var (name, role, select, delete) in parts)
                {
                    var rows = cutoff is null ? MkioDatabase.Query(connection, select, tx) : MkioDatabase.Query(connection, select, tx, cutoff);
                    var file = (role == "table" ? name : $"{t.Name}.{name}") + ".csv";
                    files.Add(new RunFile(name, role, file, rows.Count));
                    stdout.WriteLine($"  {name}: {(dryRun ? "would archive" : "archived")} {rows.Count} rows{(role == "table" ? string.Empty : $" ({role} of {t.Name})")}{(dryRun ? "." : $" to {Path.Combine(run, file)}.")}");
                    if (!dryRun)
                    {
                        WriteCsv(Path.Combine(run, file), rows, () => Columns(connection, tx, name));
                    }
                }

                // Companions and history first (their selection reads the table's rows), the table last.
                deletes.AddRange(parts.Skip(1).Select(p => (p.Delete, cutoff)));
                deletes.Add((parts[0].Delete, cutoff));
                entries.Add(new RunEntry(t.Name, key, t.Archive.Cutoff, cutoff, files));
            }

            if (dryRun)
            {
                return 0;
            }

            WriteManifest(Path.Combine(run, ManifestFile), model, now, entries);
            var deleted = 0;
            foreach (var (sql, cutoff) in deletes)
            {
                using var cmd = connection.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = sql;
                if (cutoff is not null)
                {
                    cmd.Parameters.AddWithValue("$p1", cutoff);
                }

                deleted += cmd.ExecuteNonQuery();
            }

            tx.Commit();
            stdout.WriteLine($"  Deleted {deleted} archived rows; archive in {run}.");
            return 0;
        });
    }

    /// <summary>The cutoff as a UTC time: <c>N</c> days/hours/minutes before <paramref name="now"/>, or an ISO date-time (UTC unless it says otherwise).</summary>
    public static DateTime? CutoffTime(string text, DateTimeOffset now)
    {
        if (RelativeTime(text, now) is { } time)
        {
            return time;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at) ? at.UtcDateTime : null;
    }

    /// <summary>Renders <paramref name="time"/> with a strftime format (<c>%Y %m %d %H %M %S %f %y %j %F %T %s %%</c>).</summary>
    /// <exception cref="FormatException">The format uses another directive.</exception>
    public static string Strftime(string format, DateTime time)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i == format.Length - 1)
            {
                sb.Append(format[i]);
                continue;
            }

            var d = format[++i];
            sb.Append(d switch
            {
                'Y' => time.ToString("yyyy", CultureInfo.InvariantCulture),
                'y' => time.ToString("yy", CultureInfo.InvariantCulture),
                'm' => time.ToString("MM", CultureInfo.InvariantCulture),
                'd' => time.ToString("dd", CultureInfo.InvariantCulture),
                'H' => time.ToString("HH", CultureInfo.InvariantCulture),
                'M' => time.ToString("mm", CultureInfo.InvariantCulture),
                'S' => time.ToString("ss", CultureInfo.InvariantCulture),
                'f' => time.ToString("ffffff", CultureInfo.InvariantCulture),
                'j' => time.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                'F' => time.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                'T' => time.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                's' => new DateTimeOffset(time, TimeSpan.Zero).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                '%' => "%",
                _ => throw new FormatException($"archive format '{format}': '%{d}' is not supported (use %Y %m %d %H %M %S %f %y %j %F %T %s %%)."),
            });
        }

        return sb.ToString();
    }

    /// <summary>The column names of <paramref name="table"/> as stored (the header of an empty CSV).</summary>
    private static string[] Columns(SqliteConnection connection, SqliteTransaction tx, string table) =>
        [.. MkioDatabase.Query(connection, "SELECT name FROM pragma_table_info($p1) ORDER BY cid", tx, table).Select(r => (string)r[0]!)];

    private static void WriteManifest(string path, MkioModel model, DateTimeOffset now, List<RunEntry> entries)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("name", model.Options.Name);
            w.WriteString("db_path", model.Options.DbPath);
            w.WriteString("created", now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            w.WriteStartArray("tables");
            foreach (var e in entries)
            {
                w.WriteStartObject();
                w.WriteString("table", e.Table);
                w.WriteString("key", e.Key);
                w.WriteString("cutoff_column", e.CutoffColumn);
                w.WriteString("cutoff", e.Cutoff);
                w.WriteBoolean("whole_table", e.CutoffColumn is null);
                w.WriteStartArray("files");
                foreach (var f in e.Files)
                {
                    w.WriteStartObject();
                    w.WriteString("table", f.Table);
                    w.WriteString("role", f.Role);
                    w.WriteString("file", f.File);
                    w.WriteNumber("rows", f.Rows);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        stream.Write(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Restores one row-archive run directory inside <paramref name="tx"/>; a key that exists aborts, except for whole-table archives (replaced).</summary>
    private static int RestoreRun(MkioModel model, SqliteConnection connection, SqliteTransaction tx, string run, string? onlyTables, bool dryRun, TextWriter stdout, TextWriter stderr)
    {
        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run, ManifestFile)));
        var only = onlyTables?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        foreach (var entry in manifest.RootElement.GetProperty("tables").EnumerateArray())
        {
            var table = entry.GetProperty("table").GetString()!;
            if (only is not null && !only.Contains(table))
            {
                continue;
            }

            var replace = entry.GetProperty("whole_table").GetBoolean();
            var key = entry.GetProperty("key").GetString()!;
            foreach (var f in entry.GetProperty("files").EnumerateArray())
            {
                var target = f.GetProperty("table").GetString()!;
                if (!model.TablesByName.ContainsKey(target))
                {
                    stderr.WriteLine($"Error: the archive holds table '{target}', which the config does not declare; nothing was restored.");
                    return 1;
                }

                var file = Path.Combine(run, f.GetProperty("file").GetString()!);
                var csv = CsvReader.Parse(File.ReadAllText(file, Encoding.UTF8));
                if (csv.Count <= 1)
                {
                    continue;
                }

                var header = csv[0];
                var (cmd, parameters) = InsertCommand(connection, tx, target, header, replace);
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
                        var at = Array.IndexOf(header, key);
                        stderr.WriteLine($"Error: table '{target}' already holds a row with {key} = {(at >= 0 && at < row.Length ? row[at] : "?")} ({ex.Message}); nothing was restored.");
                        return 1;
                    }
                }

                stdout.WriteLine($"  {target}: {(dryRun ? "would restore" : "restored")} {csv.Count - 1} rows from {file}.");
            }
        }

        return 0;
    }
}
