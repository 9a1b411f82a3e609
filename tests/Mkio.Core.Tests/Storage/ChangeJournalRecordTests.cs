using System.Globalization;
using Microsoft.Data.Sqlite;
using Mkio.Changes;
using Mkio.Core.Tests.Migration;
using Mkio.Data;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Storage;

namespace Mkio.Core.Tests.Storage;

/// <summary>
/// The journal's per-batch records (issue 10, item 2): one record per table per batch, read back exactly
/// (the newest N entries, the ref at a sequence) even where two tables' records of one batch interleave,
/// pruned a whole record at a time, and a journal of one row per change converted at start-up.
/// </summary>
public sealed class ChangeJournalRecordTests
{
    private static MkioModel Model()
    {
        var o = new MkioOptions { DbPath = ":memory:" };
        StorageTestEngine.FixtureA(o);
        return ModelCompiler.Compile(o);
    }

    private static ChangeEvent Order(MkioModel model, long seq, string op = "insert") =>
        new(model.TablesByName["orders"], op, new Row(new RowSchema(["id", "qty", "note"]), ["o" + seq.ToString(CultureInfo.InvariantCulture), seq, "say \"hi\"\\ é"]), "r" + seq.ToString(CultureInfo.InvariantCulture), seq);

    private static ChangeEvent Audit(MkioModel model, long seq) =>
        new(model.TablesByName["audit_log"], "insert", new Row(new RowSchema(["id", "event"]), [seq, "e"]), "r" + seq.ToString(CultureInfo.InvariantCulture), seq);

    private static void Append(SqliteConnection c, ChangeJournal journal, params ChangeEvent[] events)
    {
        using var tx = c.BeginTransaction();
        journal.Append(c.Handle!, events);
        tx.Commit();
    }

    private static List<string> Rows(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<string>();
        while (r.Read())
        {
            rows.Add(string.Join(" | ", Enumerable.Range(0, r.FieldCount).Select(i => Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    [Test]
    public void Append_TwoTablesInterleaved_OneRecordPerTablePerBatch_ReadAndRefAtOrBeforeExact()
    {
        var model = Model();
        using var db = new MigrationTestDb();
        using var c = db.Open();
        ChangeJournal.EnsureCreated(c);
        using var journal = new ChangeJournal(new Dictionary<string, int> { ["orders"] = 1000, ["audit_log"] = 1000 });
        journal.Load(c.Handle!);
        Append(c, journal, Order(model, 1), Audit(model, 2), Order(model, 3, "update"));
        Append(c, journal, Audit(model, 4), Order(model, 5, "delete"));

        var all = new[] { "orders", "audit_log" };
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Rows(c, "SELECT last, first, tbl, n FROM _mkio_journal_batch ORDER BY last"),
                Is.EqualTo(new[] { "2 | 2 | audit_log | 1", "3 | 1 | orders | 2", "4 | 4 | audit_log | 1", "5 | 5 | orders | 1" }));

            // The view: one row per change, the row exactly the wire JSON fan-out sends (quotes, backslash, non-ASCII).
            Assert.That(Rows(c, "SELECT seq, tbl, op, ref FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new[]
            {
                "1 | orders | insert | r1", "2 | audit_log | insert | r2", "3 | orders | update | r3", "4 | audit_log | insert | r4", "5 | orders | delete | r5",
            }));
            Assert.That(Rows(c, "SELECT row FROM _mkio_journal WHERE seq = 3"), Is.EqualTo(new[] { System.Text.Encoding.UTF8.GetString(SubscriptionFrames.RowJson(Order(model, 3).Row)) }));

            Assert.That(ChangeJournal.Read(c, model, ["orders"], 2).Select(e => (e.Sequence, e.Op, e.Ref)), Is.EqualTo(new[] { (3L, "update", "r3"), (5L, "delete", "r5") }));
            Assert.That(ChangeJournal.Read(c, model, all, 4).Select(e => e.Sequence), Is.EqualTo(new[] { 2L, 3L, 4L, 5L }), "the newest 4 across interleaved records");
            Assert.That(ChangeJournal.Read(c, model, all, 100).Select(e => e.Sequence), Is.EqualTo(new[] { 1L, 2L, 3L, 4L, 5L }));
            var row = ChangeJournal.Read(c, model, ["orders"], 1)[0].Row;
            Assert.That(row.Values.ToArray(), Is.EqualTo(new object?[] { "o5", 5L, "say \"hi\"\\ é" }), "the row parsed back");

            Assert.That(ChangeJournal.RefAtOrBefore(c, null, ["orders"], 2), Is.EqualTo("r1"), "inside a record that ends after the sequence");
            Assert.That(ChangeJournal.RefAtOrBefore(c, null, ["orders"], 4), Is.EqualTo("r3"));
            Assert.That(ChangeJournal.RefAtOrBefore(c, null, all, 4), Is.EqualTo("r4"));
            Assert.That(ChangeJournal.RefAtOrBefore(c, null, ["audit_log"], 1), Is.Null);
            Assert.That(ChangeJournal.MaxSequence(c), Is.EqualTo(5));
            Assert.That(ChangeJournal.IsComplete(c), Is.True);
        }
    }

    [Test]
    public void Prune_WholeRecords_TableKeepsAtLeastItsSize_LessThanOneMoreBatch()
    {
        var model = Model();
        using var db = new MigrationTestDb();
        using var c = db.Open();
        ChangeJournal.EnsureCreated(c);
        using var journal = new ChangeJournal(new Dictionary<string, int> { ["orders"] = 25 });
        journal.Load(c.Handle!);

        // 30 batches of 10 changes: pruning runs after 256 changes (batch 26) and deletes whole records.
        for (var b = 0; b < 30; b++)
        {
            Append(c, journal, [.. Enumerable.Range((b * 10) + 1, 10).Select(s => Order(model, s))]);
        }

        var kept = Rows(c, "SELECT COUNT(*), MIN(seq), MAX(seq) FROM _mkio_journal")[0];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(kept, Is.EqualTo("70 | 231 | 300"), "pruned at batch 26 (seq 260) to 3 records of 10 (25 kept), then 4 more batches");
            Assert.That(ChangeJournal.MaxSequence(c), Is.EqualTo(300));
            Assert.That(ChangeJournal.IsComplete(c), Is.False);
        }

        // After a restart the writer reads the records back and keeps pruning from there.
        using var again = new ChangeJournal(new Dictionary<string, int> { ["orders"] = 25 });
        again.Load(c.Handle!);
        for (var b = 30; b < 56; b++)
        {
            Append(c, again, [.. Enumerable.Range((b * 10) + 1, 10).Select(s => Order(model, s))]);
        }

        Assert.That(Rows(c, "SELECT COUNT(*), MAX(seq) FROM _mkio_journal")[0], Is.EqualTo("30 | 560"));
    }

    [Test]
    public void EnsureCreated_JournalOfOneRowPerChange_ConvertedWithEveryEntry()
    {
        var model = Model();
        using var db = new MigrationTestDb();
        db.Exec("CREATE TABLE _mkio_journal (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, ref TEXT NOT NULL, row TEXT NOT NULL)");
        db.Exec("""INSERT INTO _mkio_journal VALUES (7, 'orders', 'insert', 'r7', '{"id":"a","qty":NaN}'), (8, 'audit_log', 'insert', 'r8', '{"id":1}'), (9, 'orders', 'delete', 'r9', '{"id":"a","qty":1}')""");
        using var c = db.Open();
        ChangeJournal.EnsureCreated(c);
        ChangeJournal.EnsureCreated(c);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Rows(c, "SELECT type, name FROM sqlite_master WHERE name LIKE '\\_mkio\\_journal%' ESCAPE '\\' ORDER BY name"),
                Is.EqualTo(new[] { "view | _mkio_journal", "table | _mkio_journal_batch", "table | _mkio_journal_state" }));
            Assert.That(Rows(c, "SELECT seq, tbl, op, ref, row FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new[]
            {
                """7 | orders | insert | r7 | {"id":"a","qty":NaN}""", """8 | audit_log | insert | r8 | {"id":1}""", """9 | orders | delete | r9 | {"id":"a","qty":1}""",
            }));
            var orders = ChangeJournal.Read(c, model, ["orders"], 10);
            Assert.That(orders.Select(e => e.Ref), Is.EqualTo(new[] { "r7", "r9" }));
            Assert.That(orders[0].Row.Values[1] is double d && double.IsNaN(d), Is.True, "NaN kept");
            Assert.That(ChangeJournal.MaxSequence(c), Is.EqualTo(9));
        }
    }
}
