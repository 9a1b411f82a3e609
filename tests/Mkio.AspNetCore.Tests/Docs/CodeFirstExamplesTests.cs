using System.Text;
using Mkio.Discovery;
using Mkio.Model;

namespace Mkio.AspNetCore.Tests.Docs;

/// <summary>
/// docs/configuration.md shows every TOML example next to its code-first twin. The twins live here
/// as compiled code (each ```csharp block that starts with <c>o.</c> must appear verbatim in this
/// file, in the same order), and each must declare the same model as the TOML block before it:
/// same tables, same static routes, and the same discovery document for every service.
/// </summary>
public class CodeFirstExamplesTests
{
    // The code-first blocks of docs/configuration.md, in page order (keep them verbatim).
    private static readonly Action<MkioOptions>[] Examples =
    [
        o =>
        {
            o.Table("orders", t => t
                    .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                    .Column("side", "TEXT NOT NULL")
                    .Column("symbol", "TEXT NOT NULL")
                    .Column("qty", "INTEGER")
                    .Column("price", "REAL DEFAULT 0")
                    .Column("status", "TEXT DEFAULT 'pending'"))
             .Table("audit_log", t => t.Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT").Column("event", "TEXT").Column("order_id", "INTEGER").AppendOnly());
        },
        o =>
        {
            o.Transaction("add_item", tx => tx.Insert("items", fields: ["id", "name"]))
             .Transaction("item_ops", tx => tx
                 .Description("Item lifecycle")
                 .Op("rename", s => s.Update("items", key: ["id"], fields: ["name"]), description: "Rename an item")
                 .Op("remove", s => s
                     .Delete("items", key: ["id"])
                     .Insert("item_log", fields: ["id"], defaults: new Dictionary<string, object?> { ["event"] = "removed" }),
                     description: "Delete an item and log it"));
        },
        o =>
        {
            o.SubPub("last_trade", s => s
                .From("orders").Key("symbol").Where("status == 'filled'").ChangeLogSize(1000)
                .Publish("symbol", "symbol")
                .Publish("price", "IF(side == 'Buy', price, -price)")
                .Publish("time", "_mkio_ref"));
        },
        o =>
        {
            o.SubPub("levels", s => s.From("stock").Key("sku").Where("qty > 0")
                    .TopicDefault("name", "'unknown ' + _mkio_topic").TopicDefault("qty", "0"))
             .Query("catalogue", q => q.From("stock").MaxBuffer(5000));
        },
        o =>
        {
            o.Stream("audit_feed", s => s.From("audit_log").BufferSize(5000).Filterable("event"));
        },
        o =>
        {
            o.Query("all_orders", q => q.From("orders").Filterable("status", "symbol"))
             .Query("big_orders", q => q.From("orders").Sql("SELECT id, symbol, qty FROM orders WHERE qty >= 1000"));
        },
        o =>
        {
            o.StaticFiles("/", "./static").StaticFiles("/assets", "./public/assets");
        },
    ];

    private static string Page => Path.Combine(DocExamples.RepoRoot, "docs", "configuration.md");

    /// <summary>The page's code-first blocks, each with the TOML block that precedes it.</summary>
    private static List<(DocBlock Toml, DocBlock Code)> Pairs()
    {
        var pairs = new List<(DocBlock, DocBlock)>();
        DocBlock? toml = null;
        foreach (var b in DocExamples.Blocks(Page))
        {
            if (b.Language == "toml" && b.Attributes.Length == 0)
            {
                toml = b;
            }
            else if (b.Language == "csharp" && b.Text.TrimStart().StartsWith("o.", StringComparison.Ordinal))
            {
                Assert.That(toml, Is.Not.Null, $"{b.Where}: a code-first example follows its TOML twin");
                pairs.Add((toml!, b));
            }
        }

        return pairs;
    }

    [Test]
    public void CodeFirstBlocks_AppearVerbatimInThisFile_InPageOrder()
    {
        var source = Squeeze(File.ReadAllText(Path.Combine(DocExamples.RepoRoot, "tests", "Mkio.AspNetCore.Tests", "Docs", "CodeFirstExamplesTests.cs")));
        var pairs = Pairs();
        Assert.That(pairs, Has.Count.EqualTo(Examples.Length), "one compiled twin per code-first block of docs/configuration.md");
        var at = 0;
        foreach (var (_, code) in pairs)
        {
            var found = source.IndexOf(Squeeze(code.Text), at, StringComparison.Ordinal);
            Assert.That(found, Is.GreaterThanOrEqualTo(0), $"{code.Where}: the block is not in CodeFirstExamplesTests.Examples (in page order)");
            at = found + 1;
        }
    }

    [Test]
    public void CodeFirstBlocks_DeclareTheSameModelAsTheirToml()
    {
        var pairs = Pairs();
        Assert.That(pairs, Has.Count.EqualTo(Examples.Length));
        for (var i = 0; i < pairs.Count; i++)
        {
            var (tomlBlock, codeBlock) = pairs[i];
            var toml = new MkioOptions();
            TomlConfigLoader.ApplyText(tomlBlock.Text, tomlBlock.Where, toml);
            var code = new MkioOptions();
            Examples[i](code);

            // A code-first service example declares services only: give it the TOML block's tables.
            foreach (var t in toml.Tables.Where(t => code.Tables.All(c => c.Name != t.Name)))
            {
                code.Tables.Add(t);
            }

            Assert.That(code.Tables.Count + code.Services.Count + code.Static.Count, Is.Positive, codeBlock.Where);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(Tables(code), Is.EqualTo(Tables(toml)), $"{codeBlock.Where}: tables differ from {tomlBlock.Where}");
                Assert.That(code.Static, Is.EqualTo(toml.Static), $"{codeBlock.Where}: static routes differ");
                if (code.Services.Count > 0)
                {
                    Assert.That(Services(code), Is.EqualTo(Services(toml)), $"{codeBlock.Where}: services differ from {tomlBlock.Where}");
                }
            }
        }
    }

    private static List<string> Tables(MkioOptions o) =>
        [.. o.Tables.Select(t => $"{t.Name}({string.Join(", ", t.Columns.Select(c => c.Key + " " + c.Value))}){(t.AppendOnly ? " append_only" : string.Empty)}")];

    /// <summary>The discovery list and every service's discovery detail: what the model exposes of each service.</summary>
    private static List<string> Services(MkioOptions o)
    {
        o.Static.Clear();   // compared separately; their folders do not exist here
        var (model, errors) = ModelCompiler.TryCompile(o);
        Assert.That(errors.Select(e => e.ToString()), Is.Empty);
        return
        [
            Encoding.UTF8.GetString(ServiceDiscovery.List(model!)),
            .. model!.Services.Select(s => Encoding.UTF8.GetString(ServiceDiscovery.Detail(model, s))),
        ];
    }

    private static string Squeeze(string text) => string.Concat(text.Where(c => !char.IsWhiteSpace(c)));
}
