using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>SERVICES.md §4: JSON values bind by their JSON type; column affinity then applies as usual.</summary>
[Parallelizable(ParallelScope.Children)]
public partial class ValueBindingTests
{
    private static void Fixture(MkioOptions o)
    {
        o.DbPath = TxTest.DbFile;
        o.BatchMaxWaitMs = 1.0;
        o.Table("vals", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("v", "BLOB")
                .Column("t", "TEXT")
                .Column("i", "INTEGER"))
            .Transaction("put", tx => tx.Insert("vals", ["id", "v", "t", "i"]))
            .Transaction("put_defaults", tx => tx.Ops(ops => ops.Insert(
                "vals",
                ["id"],
                defaults: new Dictionary<string, object?> { ["v"] = 2.5, ["t"] = true, ["i"] = false })));
    }

}
