using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Storage;

namespace Mkio.Later;

/// <summary>
/// Table <c>seed</c> files (CSV, JSON array, JSONL): loaded into a table only when this start created it, before
/// the writer and the services start, each row with its own ascending <c>_mkio_ref</c>. Any error stops start-up;
/// the tables created by that start are dropped again, so the next start creates and seeds them anew.
/// </summary>
internal static class SeedLoader
{
    /// <summary>The seeded tables that do not exist yet (all of them for a new file or <c>:memory:</c>).</summary>
    public static List<TableModel> TablesToSeed(MkioEngine engine, bool databaseExisted)
    {
        var seeded = engine.Model.Tables.Where(t => Seed(engine, t) is not null).ToList();
        if (seeded.Count == 0 || engine.Database.FilePath is null || !databaseExisted)
        {
            return seeded;
        }

        using var c = engine.Database.OpenConnection();
        return [.. seeded.Where(t => MkioDatabase.Query(c, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $p1", t.Name).Count == 0)];
    }

    /// <summary>Inserts every seed file of <paramref name="tables"/> in one transaction on the write connection.</summary>
    public static void Load(MkioEngine engine, List<TableModel> tables)
    {
        if (tables.Count == 0)
        {
            return;
        }

        var connection = engine.Database.Writer;
        try
        {
            using var tx = connection.BeginTransaction();
            foreach (var table in tables)
            {
                var path = Resolve(engine.Model.Options, Seed(engine, table)!);
                foreach (var (line, row) in Read(table, path))
                {
                    Insert(connection, tx, table, row, engine.Refs.Next(), path, line);
                }
            }

            tx.Commit();
        }
        catch (Exception ex) when (ex is SqliteException or IOException or JsonException or MkioConfigurationException or UnauthorizedAccessException)
        {
            foreach (var table in tables)
            {
                using var drop = connection.CreateCommand();
                drop.CommandText = $"DROP TABLE IF EXISTS {table.Name}";
                drop.ExecuteNonQuery();
            }

            throw ex as MkioConfigurationException
                ?? new MkioConfigurationException($"tables.{tables[0].Name}.seed: {(ex is SqliteException se ? Storage.SqliteErrors.Unwrap(se) : ex.Message)}");
        }
    }

    internal static string? Seed(MkioEngine engine, TableModel table) =>
        engine.Model.Options.Tables.FirstOrDefault(t => t.Name == table.Name)?.Seed;

    /// <summary><c>/…</c> absolute; <c>./…</c> from the working directory; otherwise from the config file's folder.</summary>
    internal static string Resolve(MkioOptions options, string seed)
    {
        if (Path.IsPathRooted(seed))
        {
            return seed;
        }

        if (seed.StartsWith("./", StringComparison.Ordinal) || seed.StartsWith(".\\", StringComparison.Ordinal))
        {
            return Path.GetFullPath(seed);
        }

        var source = options.SourceName is { } s && File.Exists(s) ? Path.GetDirectoryName(Path.GetFullPath(s)) : null;
        return Path.GetFullPath(Path.Combine(source ?? Directory.GetCurrentDirectory(), seed));
    }

    internal static List<(int Line, List<(string Column, object? Value)> Row)> Read(TableModel table, string path)
    {
        var where = $"tables.{table.Name}.seed";
        if (!File.Exists(path))
        {
            throw new MkioConfigurationException($"{where}: seed file not found: {path}");
        }

        var ext = Path.GetExtension(path).ToLowerInvariant();
        var text = File.ReadAllText(path, Encoding.UTF8);
        switch (ext)
        {
            case ".csv":
                return Csv(text);
            case ".json":
                using (var doc = JsonDocument.Parse(text))
                {
                    if (doc.RootElement.ValueKind != JsonValueKind.Array)
                    {
                        throw new MkioConfigurationException($"{where}: {path}: expected a JSON array of objects");
                    }

                    return [.. doc.RootElement.EnumerateArray().Select((e, i) => (i + 1, Object(e, where, path, i + 1)))];
                }

            case ".jsonl":
                var rows = new List<(int, List<(string, object?)>)>();
                var lines = text.Split('\n');
                for (var i = 0; i < lines.Length; i++)
                {
                    if (string.IsNullOrWhiteSpace(lines[i]))
                    {
                        continue;
                    }

                    try
                    {
                        using var line = JsonDocument.Parse(lines[i]);
                        rows.Add((i + 1, Object(line.RootElement, where, path, i + 1)));
                    }
                    catch (JsonException ex)
                    {
                        throw new MkioConfigurationException($"{where}: {path} line {i + 1}: invalid JSON ({ex.Message.Split(" Path:")[0].Split(" LineNumber:")[0]})");
                    }
                }

                return rows;
            default:
                throw new MkioConfigurationException($"{where}: seed file '{path}' must be .csv, .json, or .jsonl");
        }
    }

    private static List<(string, object?)> Object(JsonElement e, string where, string path, int line)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new MkioConfigurationException($"{where}: {path} line {line}: expected a JSON object");
        }

        return [.. e.EnumerateObject().Select(p => (p.Name, Value(p.Value)))];
    }

    private static object? Value(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.True => 1L,
        JsonValueKind.False => 0L,
        JsonValueKind.Array or JsonValueKind.Object => PyRepr.Compact(v),
        _ => LaterProtocol.FromJson(v) is System.Numerics.BigInteger big ? big.ToString(CultureInfo.InvariantCulture) : LaterProtocol.FromJson(v),
    };

    /// <summary>RFC 4180 CSV: header row = columns; a cell is an integer if it parses as one, else a float, else text.</summary>
    private static List<(int, List<(string, object?)>)> Csv(string text)
    {
        var records = CsvRecords(text);
        var result = new List<(int, List<(string, object?)>)>();
        if (records.Count == 0)
        {
            return result;
        }

        var header = records[0].Cells;
        foreach (var (line, cells) in records.Skip(1))
        {
            if (cells.Count == 1 && cells[0].Length == 0)
            {
                continue;
            }

            var row = new List<(string, object?)>();
            for (var i = 0; i < header.Count && i < cells.Count; i++)
            {
                row.Add((header[i], Infer(cells[i])));
            }

            result.Add((line, row));
        }

        return result;
    }

    private static object Infer(string cell)
    {
        var t = cell.Trim();
        if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return l;
        }

        if (t.Length > 0 && double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return d;
        }

        return cell;
    }

    private static List<(int Line, List<string> Cells)> CsvRecords(string text)
    {
        var records = new List<(int, List<string>)>();
        var cells = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        var line = 1;
        var start = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (ch == '"')
                {
                    quoted = false;
                }
                else
                {
                    line += ch == '\n' ? 1 : 0;
                    cell.Append(ch);
                }

                continue;
            }

            switch (ch)
            {
                case '"':
                    quoted = true;
                    break;
                case ',':
                    cells.Add(cell.ToString());
                    cell.Clear();
                    break;
                case '\r':
                    break;
                case '\n':
                    cells.Add(cell.ToString());
                    cell.Clear();
                    records.Add((start, cells));
                    cells = [];
                    line++;
                    start = line;
                    break;
                default:
                    cell.Append(ch);
                    break;
            }
        }

        if (cell.Length > 0 || cells.Count > 0)
        {
            cells.Add(cell.ToString());
            records.Add((start, cells));
        }

        return records;
    }

    private static void Insert(SqliteConnection c, SqliteTransaction tx, TableModel table, List<(string Column, object? Value)> row, string @ref, string path, int line)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        var names = new List<string>();
        foreach (var (column, value) in row)
        {
            if (table.Find(column) is null)
            {
                throw new MkioConfigurationException($"tables.{table.Name}.seed: unknown column in {path} line {line}: {column}");
            }

            if (!names.Contains(column))
            {
                names.Add(column);
                cmd.Parameters.AddWithValue("$p" + names.Count.ToString(CultureInfo.InvariantCulture), value ?? DBNull.Value);
            }
        }

        var cols = string.Join(", ", names.Append(MkioSchema.RefColumn));
        var values = string.Join(", ", Enumerable.Range(1, names.Count + 1).Select(i => "$p" + i.ToString(CultureInfo.InvariantCulture)));
        cmd.Parameters.AddWithValue("$p" + (names.Count + 1).ToString(CultureInfo.InvariantCulture), @ref);
        cmd.CommandText = $"INSERT INTO {table.Name} ({cols}) VALUES ({values})";
        cmd.ExecuteNonQuery();
    }
}
