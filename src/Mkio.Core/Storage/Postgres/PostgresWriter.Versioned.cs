using System.Text;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Model;
using Mkio.Versioning;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Versioned tables on PostgreSQL (the same rules as <see cref="HistoryWriter"/> on SQLite): an op on a versioned
/// table runs its statement, then records or drops history in the same request SAVEPOINT; <c>undo</c>/<c>redo</c>
/// move the row's <c>_mkio_version</c> cursor through its history. Every change becomes a pending event, with the
/// undo/redo cause and pre-image, which the journal keeps so every node's subscribers see the cause.
/// </summary>
internal sealed partial class PostgresWriter
{
    private readonly Dictionary<TableModel, HistorySql> _historySql = [];
    private readonly Dictionary<OpModel, PgStatement> _existsSql = [];

    /// <summary>One op on a versioned table; returns the row binds of later ops see.</summary>
    private async Task<Row?> ExecuteVersionedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, WriteRequest req, string @ref, int j, ulong mask, Row?[] recorded)
    {
        var op = req.OpSet.Ops[j];
        if (!_savepointOpen)
        {
            await ExecuteAsync(connection, tx, SavepointSql).ConfigureAwait(false);
            _savepointOpen = true;
        }

        var row = await VersionedOpAsync(new Db(connection, tx), req, @ref, op, req.Values[j], mask, recorded).ConfigureAwait(false);
        if (j == req.OpSet.Ops.Length - 1)
        {
            await ExecuteAsync(connection, tx, ReleaseSql).ConfigureAwait(false);
        }

        return row;
    }

    private async Task<Row?> VersionedOpAsync(Db db, WriteRequest req, string @ref, OpModel op, object?[] values, ulong mask, Row?[] recorded)
    {
        var context = new HistoryContext(@ref, req.User, req.Service);
        var table = op.Table;
        var s = HistoryFor(table);
        if (op.Type is OpType.Undo or OpType.Redo)
        {
            var key = new object?[op.Key.Length];
            for (var k = 0; k < key.Length; k++)
            {
                var column = table.PrimaryKey[k];
                key[k] = PostgresValues.Coerce(WriteBatcher.ParamValue(op, k, values, @ref, recorded, req), PostgresColumnMapper.KindOf(column.Definition), table.Name + "." + column.Name);
            }

            var change = op.Type == OpType.Undo ? await UndoAsync(db, s, key, context).ConfigureAwait(false) : await RedoAsync(db, s, key, context).ConfigureAwait(false);
            _pending.Add(change);
            return change.Op == "delete" ? null : change.Row;
        }

        var (sql, indexes) = Statement(op, mask);
        var args = new object?[indexes.Length];
        var kinds = new PostgresColumnKind[indexes.Length];
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var p = 0; p < indexes.Length; p++)
        {
            var name = op.Params[indexes[p]].Name;
            kinds[p] = table.Find(name) is { } column ? PostgresColumnMapper.KindOf(column.Definition) : PostgresColumnKind.Text;
            args[p] = PostgresValues.Coerce(WriteBatcher.ParamValue(op, indexes[p], values, @ref, recorded, req), kinds[p], table.Name + "." + name);
            names.TryAdd(name, p);
        }

        // Whether an upsert's key exists decides insert or update history.
        var inserts = op.Type == OpType.Insert;
        if (op.Type == OpType.Upsert)
        {
            var key = op.Key.Select(k => names.TryGetValue(k, out var at) ? args[at] : null).ToArray();
            inserts = (await RunAsync(db, ExistsFor(op), key).ConfigureAwait(false)).Count == 0;
        }

        var rows = await RunAsync(db, new PgStatement(sql, kinds, table.Name), args).ConfigureAwait(false);
        Row? first = null;
        foreach (var row in rows)
        {
            var current = row;
            if (op.Type == OpType.Delete)
            {
                _pending.Add(new(table, op.OpTypeName, row));
                await ChangeHistoryAsync(db, s, s.DeleteHistory, "delete", HistoryWriter.Key(table, row)).ConfigureAwait(false);
            }
            else if (inserts)
            {
                _pending.Add(new(table, op.OpTypeName, row));
                await ChangeHistoryAsync(db, s, s.DeleteHistory, "delete", HistoryWriter.Key(table, row)).ConfigureAwait(false);
                await RecordAsync(db, s, row, HistoryWriter.Version(row), "insert", context).ConfigureAwait(false);
            }
            else
            {
                var at = _pending.Count;
                _pending.Add(new(table, op.OpTypeName, row));
                current = await UpdatedAsync(db, s, row, context).ConfigureAwait(false);
                _pending[at] = new(table, op.OpTypeName, current);
            }

            first ??= current;
        }

        return op.Type == OpType.Delete ? null : first;
    }

    /// <summary>An updated row: a recorded change moves the cursor up one, cuts the redo branch and records the version.</summary>
    private async Task<Row> UpdatedAsync(Db db, HistorySql s, Row row, HistoryContext context)
    {
        var key = HistoryWriter.Key(s.Table, row);
        var cursor = HistoryWriter.Version(row);
        var current = await RunAsync(db, s.SelectVersion, [.. key, cursor]).ConfigureAwait(false);
        if (current.Count == 1 && HistoryWriter.SameRecorded(s.Table, current[0], row))
        {
            return row;
        }

        var next = cursor + 1;
        await ChangeHistoryAsync(db, s, s.DeleteFrom, "delete", [.. key, next]).ConfigureAwait(false);
        var updated = await RunAsync(db, s.SetVersion, [next, .. key]).ConfigureAwait(false);
        await RecordAsync(db, s, row, next, "update", context).ConfigureAwait(false);
        return updated.Count == 1 ? updated[0] : row;
    }

    private static async Task<PendingChange> UndoAsync(Db db, HistorySql s, object?[] key, HistoryContext context)
    {
        var live = await RunAsync(db, s.SelectBase, key).ConfigureAwait(false);
        if (live.Count == 0)
        {
            throw new MkioWriteException(HistoryWriter.NothingToUndo);
        }

        var old = live[0];
        var cursor = HistoryWriter.Version(old);
        if (cursor > 1 && await RunAsync(db, s.SelectVersion, [.. key, cursor - 1]).ConfigureAwait(false) is [var previous])
        {
            return new(s.Table, "update", await RestoreAsync(db, s, key, previous, cursor - 1, context).ConfigureAwait(false), ChangeEvent.Undo, old);
        }

        if (cursor == 1)
        {
            return new(s.Table, "delete", (await RunAsync(db, s.DeleteBase, key).ConfigureAwait(false))[0], ChangeEvent.Undo, old);
        }

        throw new MkioWriteException(HistoryWriter.NothingToUndo);
    }

    private static async Task<PendingChange> RedoAsync(Db db, HistorySql s, object?[] key, HistoryContext context)
    {
        var live = await RunAsync(db, s.SelectBase, key).ConfigureAwait(false);
        if (live.Count == 1)
        {
            var cursor = HistoryWriter.Version(live[0]);
            if (await RunAsync(db, s.SelectVersion, [.. key, cursor + 1]).ConfigureAwait(false) is [var next])
            {
                return new(s.Table, "update", await RestoreAsync(db, s, key, next, cursor + 1, context).ConfigureAwait(false), ChangeEvent.Redo, live[0]);
            }

            throw new MkioWriteException(HistoryWriter.NothingToRedo);
        }

        if (await RunAsync(db, s.SelectVersion, [.. key, 1L]).ConfigureAwait(false) is [var first])
        {
            var values = new object?[s.Table.Recorded.Length + 2];
            for (var i = 0; i < s.Table.Recorded.Length; i++)
            {
                values[i] = first[i];
            }

            values[^2] = 1L;
            values[^1] = context.Ref;
            return new(s.Table, "insert", (await RunAsync(db, s.Rebuild, values).ConfigureAwait(false))[0], ChangeEvent.Redo);
        }

        throw new MkioWriteException(HistoryWriter.NothingToRedo);
    }

    private static async Task<Row> RestoreAsync(Db db, HistorySql s, object?[] key, Row version, long cursor, HistoryContext context)
    {
        var values = new List<object?>(s.Table.Recorded.Length + 3);
        for (var i = 0; i < s.Table.Recorded.Length; i++)
        {
            if (!s.Table.Recorded[i].PrimaryKey)
            {
                values.Add(version[i]);
            }
        }

        values.Add(cursor);
        values.Add(context.Ref);
        values.AddRange(key);
        return (await RunAsync(db, s.Restore, [.. values]).ConfigureAwait(false))[0];
    }

    private Task RecordAsync(Db db, HistorySql s, Row row, long version, string op, HistoryContext context)
    {
        var values = new object?[5 + s.Table.Recorded.Length];
        values[0] = version;
        values[1] = op;
        values[2] = context.Ref;
        values[3] = context.User;
        values[4] = context.Service;
        for (var i = 0; i < s.Table.Recorded.Length; i++)
        {
            row.TryGetValue(s.Table.Recorded[i].Name, out values[5 + i]);
        }

        return ChangeHistoryAsync(db, s, s.InsertHistory, "insert", values);
    }

    /// <summary>A change to the history table: read back as events only when a service follows the history table.</summary>
    private async Task ChangeHistoryAsync(Db db, HistorySql s, (PgStatement Returning, PgStatement Quiet) statement, string op, object?[] args)
    {
        var history = s.Table.History!;
        if (!history.Watched)
        {
            await RunAsync(db, statement.Quiet, args).ConfigureAwait(false);
            return;
        }

        foreach (var r in await RunAsync(db, statement.Returning, args).ConfigureAwait(false))
        {
            _pending.Add(new(history, op, r));
        }
    }

    /// <summary>Runs <paramref name="s"/> with <paramref name="args"/> (converted to the statement's column kinds) and returns its rows.</summary>
    private static async Task<List<Row>> RunAsync(Db db, PgStatement s, object?[] args)
    {
        using var cmd = new NpgsqlCommand(s.Sql, db.Connection, db.Transaction);
        for (var i = 0; i < args.Length; i++)
        {
            cmd.Parameters.Add(PostgresValues.Parameter(args[i], s.Kinds[i], s.Table));
        }

        using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        return await PostgresValues.ReadRowsAsync(reader, CancellationToken.None).ConfigureAwait(false);
    }

    private PgStatement ExistsFor(OpModel op)
    {
        if (!_existsSql.TryGetValue(op, out var s))
        {
            var kinds = op.Key.Select(k => op.Table.Find(k) is { } c ? PostgresColumnMapper.KindOf(c.Definition) : PostgresColumnKind.Text).ToArray();
            s = new PgStatement($"SELECT 1 FROM {op.Table.Name} WHERE {HistorySql.Where(op.Key, 1)}", kinds, op.Table.Name);
            _existsSql[op] = s;
        }

        return s;
    }

    private HistorySql HistoryFor(TableModel table)
    {
        if (!_historySql.TryGetValue(table, out var s))
        {
            s = new HistorySql(table);
            _historySql[table] = s;
        }

        return s;
    }

    private readonly record struct Db(NpgsqlConnection Connection, NpgsqlTransaction Transaction);

    /// <summary>PostgreSQL text with <c>$n</c> parameters and the column kind each parameter is converted to.</summary>
    private sealed record PgStatement(string Sql, PostgresColumnKind[] Kinds, string Table);

    /// <summary>The statements of one versioned table (the same as <see cref="HistoryWriter"/>'s, in PostgreSQL text).</summary>
    private sealed class HistorySql
    {
        public HistorySql(TableModel table)
        {
            Table = table;
            var t = table.Name;
            var h = table.History!.Name;
            var pk = table.PrimaryKey.Select(c => c.Name).ToArray();
            var pkKinds = table.PrimaryKey.Select(Kind).ToArray();
            var recorded = table.Recorded;
            var cols = string.Join(", ", recorded.Select(c => c.Name));
            var v = VersionedSchema.VersionColumn;
            var r = MkioSchema.RefColumn;
            PostgresColumnKind[] K(params IEnumerable<PostgresColumnKind>[] parts) => [.. parts.SelectMany(p => p)];
            PgStatement S(string sql, PostgresColumnKind[] kinds, string name) => new(sql, kinds, name);
            var integer = new[] { PostgresColumnKind.Integer };
            var text = new[] { PostgresColumnKind.Text };
            SelectBase = S($"SELECT * FROM {t} WHERE {Where(pk, 1)}", pkKinds, t);
            SelectVersion = S($"SELECT {cols} FROM {h} WHERE {Where(pk, 1)} AND {v} = ${pk.Length + 1}", K(pkKinds, integer), h);
            (PgStatement, PgStatement) H(string sql, PostgresColumnKind[] kinds) => (S(sql + " RETURNING *", kinds, h), S(sql, kinds, h));
            DeleteHistory = H($"DELETE FROM {h} WHERE {Where(pk, 1)}", pkKinds);
            DeleteFrom = H($"DELETE FROM {h} WHERE {Where(pk, 1)} AND {v} >= ${pk.Length + 1}", K(pkKinds, integer));
            InsertHistory = H(
                $"INSERT INTO {h} ({string.Join(", ", VersionedSchema.MetaColumns)}, {cols}) VALUES ({Params(1, 5 + recorded.Length)})",
                K(integer, text, text, text, text, recorded.Select(Kind)));
            SetVersion = S($"UPDATE {t} SET {v} = $1 WHERE {Where(pk, 2)} RETURNING *", K(integer, pkKinds), t);
            var nonKey = recorded.Where(c => !c.PrimaryKey).ToArray();
            var set = new StringBuilder();
            for (var i = 0; i < nonKey.Length; i++)
            {
                set.Append(nonKey[i].Name).Append(" = $").Append(i + 1).Append(", ");
            }

            set.Append(v).Append(" = $").Append(nonKey.Length + 1).Append(", ").Append(r).Append(" = $").Append(nonKey.Length + 2);
            Restore = S($"UPDATE {t} SET {set} WHERE {Where(pk, nonKey.Length + 3)} RETURNING *", K(nonKey.Select(Kind), integer, text, pkKinds), t);
            Rebuild = S($"INSERT INTO {t} ({cols}, {v}, {r}) VALUES ({Params(1, recorded.Length + 2)}) RETURNING *", K(recorded.Select(Kind), integer, text), t);
            DeleteBase = S($"DELETE FROM {t} WHERE {Where(pk, 1)} RETURNING *", pkKinds, t);
        }

        public TableModel Table { get; }

        public PgStatement SelectBase { get; }

        public PgStatement SelectVersion { get; }

        public (PgStatement Returning, PgStatement Quiet) DeleteHistory { get; }

        public (PgStatement Returning, PgStatement Quiet) DeleteFrom { get; }

        public (PgStatement Returning, PgStatement Quiet) InsertHistory { get; }

        public PgStatement SetVersion { get; }

        public PgStatement Restore { get; }

        public PgStatement Rebuild { get; }

        public PgStatement DeleteBase { get; }

        /// <summary><c>a = $n AND b = $n+1</c>.</summary>
        public static string Where(IReadOnlyList<string> columns, int first) =>
            string.Join(" AND ", columns.Select((c, i) => $"{c} = ${first + i}"));

        private static string Params(int first, int count) => string.Join(", ", Enumerable.Range(first, count).Select(i => "$" + i));

        private static PostgresColumnKind Kind(ColumnInfo c) => PostgresColumnMapper.KindOf(c.Definition);
    }
}
