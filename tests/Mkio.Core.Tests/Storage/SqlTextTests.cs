using Mkio.Model;
using Mkio.Storage;

namespace Mkio.Core.Tests.Storage;

/// <summary>
/// The exact SQL of each op (SERVICES.md §5.1; DELETE with <c>RETURNING *</c> per fix F3) and the
/// statement variants of fix F14, where omitted optional fields leave the statement.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class SqlTextTests
{
    private static readonly Lazy<MkioModel> Model = new(() =>
    {
        var o = new MkioOptions { DbPath = ":memory:" };
        Mkio.Testing.OrderBookModel.Tables(o, appendOnlyAudit: false)
            .Table("torders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER")
                .Column("price", "REAL DEFAULT 0"))
            .Table("pairs", t => t
                .Column("a", "TEXT NOT NULL")
                .Column("b", "INTEGER NOT NULL")
                .Column("v", "TEXT")
                .Column("w", "REAL NOT NULL"))
            .Transaction("orders", tx => tx
                .Op("new", ops => ops
                    .Insert("orders", ["side", "symbol", "qty", "price"])
                    .Insert("audit_log", defaults: new Dictionary<string, object?> { ["event"] = "new" }, bind: new Dictionary<string, string> { ["order_id"] = "$0.id", ["status"] = "$0.status" }))
                .Op("status", ops => ops
                    .Update("orders", ["id"], ["status"])
                    .Delete("orders", ["id"])
                    .Upsert("torders", ["id"], ["symbol", "qty"])))
            .Transaction("pairs", tx => tx
                .Op("update", ops => ops.Update("pairs", ["a", "b"], ["v", "w"]))
                .Op("delete", ops => ops.Delete("pairs", ["a", "b"]))
                .Op("upsert", ops => ops.Upsert("pairs", ["a", "b"], ["b", "v", "w"]))
                .Op("mixed", ops => ops
                    .Insert("torders", ["id", "symbol"])
                    .Update("pairs", ["a"], ["v"], defaults: new Dictionary<string, object?> { ["w"] = 1.5 }, bind: new Dictionary<string, string> { ["b"] = "$0.qty" })));
        return ModelCompiler.Compile(o);
    });

    private static OpModel Op(string service, string set, int index) =>
        ((TransactionServiceModel)Model.Value.ServicesByName[service]).FindOpSet(set)!.Ops[index];

    private static ulong Omit(OpModel op, params string[] names)
    {
        var mask = 0UL;
        foreach (var n in names)
        {
            var i = Array.FindIndex(op.Params, p => p.Name == n);
            Assert.That(i, Is.GreaterThanOrEqualTo(0), $"{n} is a parameter");
            mask |= 1UL << i;
        }

        return mask;
    }

    private static string Params(OpModel op, int[] indexes) => string.Join(", ", indexes.Select(i => op.Params[i].Name));

    [Test]
    public void For_InsertWithFields_ReferenceText()
    {
        var op = Op("orders", "new", 0);
        var (sql, indexes) = SqlText.For(op, 0);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(sql, Is.EqualTo("INSERT INTO orders (side, symbol, qty, price, _mkio_ref) VALUES (?, ?, ?, ?, ?) RETURNING *"));
            Assert.That(Params(op, indexes), Is.EqualTo("side, symbol, qty, price, _mkio_ref"));
        }
    }

    [Test]
    public void For_InsertWithBindsAndDefaultsOnly_BoundThenDefaulted()
    {
        var op = Op("orders", "new", 1);
        var (sql, indexes) = SqlText.For(op, 0);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(sql, Is.EqualTo("INSERT INTO audit_log (order_id, status, event, _mkio_ref) VALUES (?, ?, ?, ?) RETURNING *"));
            Assert.That(op.Params.Select(p => $"{p.Name}:{p.Source}"), Is.EqualTo(new[] { "order_id:Bind", "status:Bind", "event:Data", "_mkio_ref:Ref" }));
            Assert.That(indexes, Is.EqualTo(new[] { 0, 1, 2, 3 }));
        }
    }

    [Test]
    public void For_UpdateDeleteUpsert_ReferenceText()
    {
        var update = Op("orders", "status", 0);
        var delete = Op("orders", "status", 1);
        var upsert = Op("orders", "status", 2);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(SqlText.For(update, 0).Sql, Is.EqualTo("UPDATE orders SET status = ?, _mkio_ref = ? WHERE id = ? RETURNING *"));
            Assert.That(Params(update, SqlText.For(update, 0).ParamIndexes), Is.EqualTo("status, _mkio_ref, id"));
            Assert.That(SqlText.For(delete, 0).Sql, Is.EqualTo("DELETE FROM orders WHERE id = ? RETURNING *"));
            Assert.That(Params(delete, SqlText.For(delete, 0).ParamIndexes), Is.EqualTo("id"));
            Assert.That(SqlText.For(upsert, 0).Sql, Is.EqualTo(
                "INSERT INTO torders (id, symbol, qty, _mkio_ref) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET symbol = excluded.symbol, qty = excluded.qty, _mkio_ref = excluded._mkio_ref RETURNING *"));
            Assert.That(Params(upsert, SqlText.For(upsert, 0).ParamIndexes), Is.EqualTo("id, symbol, qty, _mkio_ref"));
        }
    }

    [Test]
    public void For_CompositeKeys_JoinedWithAndAndCommas()
    {
        var update = Op("pairs", "update", 0);
        var delete = Op("pairs", "delete", 0);
        var upsert = Op("pairs", "upsert", 0);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(SqlText.For(update, 0).Sql, Is.EqualTo("UPDATE pairs SET v = ?, w = ?, _mkio_ref = ? WHERE a = ? AND b = ? RETURNING *"));
            Assert.That(Params(update, SqlText.For(update, 0).ParamIndexes), Is.EqualTo("v, w, _mkio_ref, a, b"));
            Assert.That(SqlText.For(delete, 0).Sql, Is.EqualTo("DELETE FROM pairs WHERE a = ? AND b = ? RETURNING *"));

            // A key column listed in fields keeps its key position and is not in the SET list.
            Assert.That(SqlText.For(upsert, 0).Sql, Is.EqualTo(
                "INSERT INTO pairs (a, b, v, w, _mkio_ref) VALUES (?, ?, ?, ?, ?) ON CONFLICT(a, b) DO UPDATE SET v = excluded.v, w = excluded.w, _mkio_ref = excluded._mkio_ref RETURNING *"));
            Assert.That(Params(upsert, SqlText.For(upsert, 0).ParamIndexes), Is.EqualTo("a, b, v, w, _mkio_ref"));
        }
    }

    [Test]
    public void For_UpdateWithBindAndDefault_FieldsThenBoundThenDefaulted()
    {
        var op = Op("pairs", "mixed", 1);
        var (sql, indexes) = SqlText.For(op, 0);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(sql, Is.EqualTo("UPDATE pairs SET v = ?, b = ?, w = ?, _mkio_ref = ? WHERE a = ? RETURNING *"));
            Assert.That(Params(op, indexes), Is.EqualTo("v, b, w, _mkio_ref, a"));
        }
    }

    [Test]
    public void For_InsertWithOmittedOptionalFields_ColumnsAndPlaceholdersDropped()
    {
        var op = Op("orders", "new", 0);
        var qty = SqlText.For(op, Omit(op, "qty"));
        var both = SqlText.For(op, Omit(op, "qty", "price"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(qty.Sql, Is.EqualTo("INSERT INTO orders (side, symbol, price, _mkio_ref) VALUES (?, ?, ?, ?) RETURNING *"));
            Assert.That(Params(op, qty.ParamIndexes), Is.EqualTo("side, symbol, price, _mkio_ref"));
            Assert.That(both.Sql, Is.EqualTo("INSERT INTO orders (side, symbol, _mkio_ref) VALUES (?, ?, ?) RETURNING *"));
            Assert.That(both.ParamIndexes, Is.EqualTo(new[] { 0, 1, 4 }));
        }
    }

    [Test]
    public void For_UpdateWithOmittedField_DroppedFromSetList()
    {
        var update = Op("orders", "status", 0);
        var pairs = Op("pairs", "update", 0);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(SqlText.For(update, Omit(update, "status")).Sql, Is.EqualTo("UPDATE orders SET _mkio_ref = ? WHERE id = ? RETURNING *"));
            Assert.That(Params(update, SqlText.For(update, Omit(update, "status")).ParamIndexes), Is.EqualTo("_mkio_ref, id"));
            Assert.That(SqlText.For(pairs, Omit(pairs, "v")).Sql, Is.EqualTo("UPDATE pairs SET w = ?, _mkio_ref = ? WHERE a = ? AND b = ? RETURNING *"));
        }
    }

    [Test]
    public void For_UpsertWithOmittedField_DroppedFromInsertAndSetLists()
    {
        var upsert = Op("orders", "status", 2);
        var (sql, indexes) = SqlText.For(upsert, Omit(upsert, "qty"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(sql, Is.EqualTo("INSERT INTO torders (id, symbol, _mkio_ref) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET symbol = excluded.symbol, _mkio_ref = excluded._mkio_ref RETURNING *"));
            Assert.That(Params(upsert, indexes), Is.EqualTo("id, symbol, _mkio_ref"));
        }
    }

    /// <summary>F14/F16: which parameters may be omitted — exactly the fields the descriptor reports <c>required: false</c>.</summary>
    [Test]
    public void Params_OptionalFlags_FollowDescriptorRules()
    {
        static string Flags(OpModel op) => string.Join(", ", op.Params.Select(p => $"{p.Name}{(p.Optional ? "?" : string.Empty)}"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Flags(Op("orders", "new", 0)), Is.EqualTo("side, symbol, qty?, price?, _mkio_ref"));
            Assert.That(Flags(Op("orders", "new", 1)), Is.EqualTo("order_id, status, event, _mkio_ref"), "bound and op-defaulted parameters are never omitted");
            Assert.That(Flags(Op("orders", "status", 0)), Is.EqualTo("status?, _mkio_ref, id"), "key columns are required");
            Assert.That(Flags(Op("orders", "status", 2)), Is.EqualTo("id, symbol, qty?, _mkio_ref"), "a TEXT primary key without default is required (F16)");
            Assert.That(Flags(Op("pairs", "upsert", 0)), Is.EqualTo("a, b, v?, w, _mkio_ref"));
        }
    }

    [Test]
    public void For_EveryOpAndVariant_PlaceholderCountMatchesParameters()
    {
        foreach (var service in Model.Value.Services.OfType<TransactionServiceModel>())
        {
            foreach (var op in service.OpSets.SelectMany(s => s.Ops))
            {
                var optional = op.Params.Select((p, i) => (p, i)).Where(x => x.p.Optional).Select(x => 1UL << x.i).ToList();
                var masks = new List<ulong> { 0 };
                foreach (var bit in optional)
                {
                    masks.AddRange(masks.Select(m => m | bit).ToList());
                }

                foreach (var mask in masks)
                {
                    var (sql, indexes) = SqlText.For(op, mask);
                    Assert.That(sql.Count(c => c == '?'), Is.EqualTo(indexes.Length), sql);
                }
            }
        }
    }
}
