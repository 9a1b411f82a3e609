using System.Globalization;
using System.Text;
using System.Text.Json;
using Mkio.Later;
using Mkio.Model;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Table <c>seed</c> files on PostgreSQL: as on SQLite, a table is seeded only when this start created it, each row
/// with its own ascending <c>_mkio_ref</c>, the rows not journaled (they are the table's starting state, loaded
/// before the services). The inserts run inside the schema transaction under <see cref="PostgresSchema.SchemaLockKey"/>,
/// so of several nodes starting together exactly one creates and seeds the table, and a failed seed rolls the
/// table's creation back with it (the next start creates and seeds it anew). Values are converted to the column
/// types as a write converts them; identity sequences are raised past seeded ids.
/// </summary>
internal static class PostgresSeeds
{
    private const int RowsPerRoundTrip = 500;

    private const string NewestRefSql = "SELECT ref FROM " + ChangeJournal.TableName + " ORDER BY seq DESC LIMIT 1";

    /// <summary>Inserts the seed file of every table of <paramref name="created"/> that has one.</summary>
    public static async Task LoadAsync(MkioEngine engine, NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<TableModel> created, CancellationToken cancellationToken)
    {
        var seeded = created.Where(t => SeedLoader.Seed(engine, t) is not null).ToList();
        if (seeded.Count == 0)
        {
            return;
        }

        // Refs above the newest one committed (the journal may be older than the table when it was added later).
        var refs = new ClusterRefs(engine.Refs);
        using (var newest = new NpgsqlCommand(NewestRefSql, connection, tx))
        {
            refs.Observe(await newest.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string);
        }

        foreach (var table in seeded)
        {
            var where = $"tables.{table.Name}.seed";
            var path = SeedLoader.Resolve(engine.Model.Options, SeedLoader.Seed(engine, table)!);
            List<(int Line, List<(string Column, object? Value)> Row)> rows;
            try
            {
                rows = SeedLoader.Read(table, path);
            }
            catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
            {
                throw new MkioConfigurationException($"{where}: {ex.Message}");
            }

            try
            {
                for (var start = 0; start < rows.Count; start += RowsPerRoundTrip)
                {
                    using var batch = new NpgsqlBatch(connection, tx);
                    foreach (var (line, row) in rows.Skip(start).Take(RowsPerRoundTrip))
                    {
                        batch.BatchCommands.Add(Insert(table, row, refs.Next(), path, line));
                    }

                    await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await RaiseIdentityAsync(connection, tx, table, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex)
            {
                throw new MkioConfigurationException($"{where}: {ex.MessageText}");
            }
        }

        // Seeded rows of a versioned table get their baseline history (each at its own ref), as on SQLite: the
        // schema's baselines ran before the seed, when the new tables were still empty.
        await PostgresSchema.BaselineAsync(connection, tx, engine.Model, refs.Next(), cancellationToken).ConfigureAwait(false);
    }

    private static NpgsqlBatchCommand Insert(TableModel table, List<(string Column, object? Value)> row, string @ref, string path, int line)
    {
        var names = new List<string>();
        var cmd = new NpgsqlBatchCommand();
        foreach (var (column, value) in row)
        {
            if (table.Find(column) is not { } info)
            {
                throw new MkioConfigurationException($"tables.{table.Name}.seed: unknown column in {path} line {line}: {column}");
            }

            if (names.Contains(column))
            {
                continue;
            }

            names.Add(column);
            try
            {
                cmd.Parameters.Add(PostgresValues.Parameter(value, PostgresColumnMapper.KindOf(info.Definition), table.Name + "." + column));
            }
            catch (MkioWriteException ex)
            {
                throw new MkioConfigurationException($"tables.{table.Name}.seed: {path} line {line}: {ex.Message}");
            }
        }

        cmd.Parameters.Add(new NpgsqlParameter { Value = @ref });
        var sql = new StringBuilder("INSERT INTO ").Append(MkioSchema.Id(table.Name)).Append(" (");
        foreach (var name in names)
        {
            sql.Append(MkioSchema.Id(name)).Append(", ");
        }

        sql.Append(MkioSchema.RefColumn).Append(") VALUES (");
        for (var i = 1; i <= names.Count + 1; i++)
        {
            sql.Append(i == 1 ? "$" : ", $").Append(i.ToString(CultureInfo.InvariantCulture));
        }

        cmd.CommandText = sql.Append(')').ToString();
        return cmd;
    }

    /// <summary>
    /// Seeds usually carry their ids; an identity column accepts them without advancing its sequence, so the
    /// sequence is set to the largest id (the next insert gets the one after it).
    /// </summary>
    private static async Task RaiseIdentityAsync(NpgsqlConnection connection, NpgsqlTransaction tx, TableModel table, CancellationToken cancellationToken)
    {
        foreach (var c in table.Columns)
        {
            if (!PostgresColumnMapper.Map(c.Definition).Contains("AS IDENTITY", StringComparison.Ordinal))
            {
                continue;
            }

            var sql = $"SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT max({MkioSchema.Id(c.Name)}) AS m FROM {MkioSchema.Id(table.Name)}) AS s WHERE m IS NOT NULL";
            using var cmd = new NpgsqlCommand(sql, connection, tx);
            cmd.Parameters.Add(new NpgsqlParameter { Value = MkioSchema.Id(table.Name) });
            cmd.Parameters.Add(new NpgsqlParameter { Value = c.Name });
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
