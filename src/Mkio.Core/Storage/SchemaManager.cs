using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Mkio.Model;

namespace Mkio.Storage;

/// <summary>
/// Finishes the schema at start-up, after migration (<see cref="Migration.SchemaMigration"/>) has
/// made a file database match the config: creates missing tables (the only step for
/// <c>:memory:</c>, SERVICES.md §3.2) and adds the <c>_mkio_ref</c> column and index to every
/// configured table (SERVICES.md §3.3).
/// </summary>
internal static partial class SchemaManager
{
    /// <summary>
    /// <c>CREATE TABLE</c> for <paramref name="table"/>: its columns, then <paramref name="extraColumns"/> (e.g.
    /// <c>, _mkio_ref TEXT DEFAULT ''</c>), then a table-level <c>PRIMARY KEY (a, b)</c> when it has <c>primary_key</c>.
    /// </summary>
    public static string CreateTableSql(TableModel table, bool ifNotExists = true, string? extraColumns = null)
    {
        var sb = new StringBuilder("CREATE TABLE ");
        if (ifNotExists)
        {
            sb.Append("IF NOT EXISTS ");
        }

        sb.Append(table.Name).Append(" (");
        for (var i = 0; i < table.Columns.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append(table.Columns[i].Name).Append(' ').Append(table.Columns[i].Definition);
        }

        sb.Append(extraColumns);
        if (table.TableKey is { } key)
        {
            sb.Append(", PRIMARY KEY (").AppendJoin(", ", key).Append(')');
        }

        return sb.Append(')').ToString();
    }

    /// <summary>
    /// Creates missing tables (<c>:memory:</c>; file databases were migrated before), then adds the
    /// <c>_mkio_ref</c> column and its index to every configured table.
    /// </summary>
    public static void Apply(SqliteConnection connection, MkioModel model, ILogger logger)
    {
        var existing = Migration.LiveSchema.Read(connection);
        using var tx = connection.BeginTransaction();
        foreach (var table in model.Tables)
        {
            if (existing.Find(table.Name) is null)
            {
                Exec(connection, tx, CreateTableSql(table));
                if (!model.InMemory)
                {
                    Log.TableCreated(logger, table.Name);
                }
            }
        }

        foreach (var table in model.Tables)
        {
            if (existing.Find(table.Name) is not { HasRefColumn: true })
            {
                Exec(connection, tx, $"ALTER TABLE {table.Name} ADD COLUMN {MkioSchema.RefColumn} TEXT DEFAULT ''");
            }

            Exec(connection, tx, $"CREATE INDEX IF NOT EXISTS {MkioSchema.RefIndexName(table.Name)} ON {table.Name}({MkioSchema.RefColumn})");
        }

        Versioning.VersionedSchema.Apply(connection, tx, model, new MkioRefGenerator(TimeProvider.System).Next());

        tx.Commit();
    }

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Created table {Table}.")]
        public static partial void TableCreated(ILogger logger, string table);
    }
}
