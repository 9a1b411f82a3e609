using Mkio;
using static Mkio.Core.Tests.Configuration.Toml.TomlTestSupport;

namespace Mkio.Core.Tests.Configuration.Toml;

[Parallelizable(ParallelScope.All)]
public sealed class TomlConfigLoaderDiagnosticsTests
{
    [Test]
    public void ApplyText_SeveralSyntaxErrors_ReportsEachWithLineAndColumn()
    {
        var o = Load("""
            port = 8080
            host =
            [tables.orders]
            columns = { id = "INTEGER" }
            [services.s]
            type = = "x"
            """);

        var errors = Errors(o);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors.Select(e => e.Location), Is.EqualTo(new SourceLocation?[]
            {
                new SourceLocation(SourceName, 2, 7), new SourceLocation(SourceName, 6, 8), new SourceLocation(SourceName, 6, 10),
            }));
            Assert.That(errors[0].Message, Does.Contain("expecting a value"));
            Assert.That(errors[0].ToString(), Does.StartWith("mkio.toml(2,7): "));
            Assert.That(errors.Select(e => e.Path), Is.All.Empty);
        }
    }

    [Test]
    public void ApplyText_SyntaxError_AppliesNothing()
    {
        var o = Load("""
            port = 1234
            [tables.t]
            columns = { id = "TEXT" }
            oops
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Errors(o), Has.Count.GreaterThanOrEqualTo(1));
            Assert.That(Errors(o)[0].Location?.Line, Is.EqualTo(4));
            Assert.That(o.Port, Is.EqualTo(8080));
            Assert.That(o.Tables, Is.Empty);
            Assert.That(o.Locations.Count, Is.Zero);
        }
    }

    [Test]
    public void ApplyText_DuplicateKeys_ReportsEveryRedefinition()
    {
        var o = Load("""
            [tables.t]
            append_only = true
            append_only = false
            [tables.t]
            """);

        var errors = Errors(o);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors.Select(e => e.Location?.Line), Is.EqualTo(new int?[] { 3, 4 }));
            Assert.That(errors[0].Message, Does.Contain("already defined"));
        }
    }

    [Test]
    public void ApplyText_PortIsString_ReportsTypeErrorWithPathAndLine()
    {
        var o = Load("""
            host = "localhost"
            port = "x"
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Errors(o).Select(e => e.ToString()), Is.EqualTo(new[] { "mkio.toml(2,1): port: expected an integer, got string 'x'" }));
            Assert.That(o.Port, Is.EqualTo(8080), "the default stays");
            Assert.That(o.Host, Is.EqualTo("localhost"), "other keys still apply");
        }
    }

    [TestCase("port = 2.5", "port: expected an integer, got float 2.5")]
    [TestCase("port = 99999999999", "port: integer 99999999999 is out of range (-2147483648 to 2147483647)")]
    [TestCase("batch_max_wait_ms = \"2\"", "batch_max_wait_ms: expected a number, got string '2'")]
    [TestCase("backup_on_startup = \"yes\"", "backup_on_startup: expected a boolean, got string 'yes'")]
    [TestCase("host = 1", "host: expected a string, got integer 1")]
    [TestCase("db_path = 1979-05-27", "db_path: expected a string, got date-time 1979-05-27")]
    [TestCase("tables = 1", "tables: expected a table, got integer 1")]
    [TestCase("services = [1]", "services: expected a table, got array")]
    [TestCase("static = { \"/\" = 1 }", "static./: expected a string, got integer 1")]
    [TestCase("tables.t = \"x\"", "tables.t: expected a table, got string 'x'")]
    [TestCase("tables.t.columns = [\"id\"]", "tables.t.columns: expected a table, got array")]
    [TestCase("tables.t.columns.id = 1", "tables.t.columns.id: expected a string, got integer 1")]
    [TestCase("tables.t.append_only = 1", "tables.t.append_only: expected a boolean, got integer 1")]
    public void ApplyText_WrongValueType_ReportsPathAndExpectation(string toml, string expected)
    {
        var o = Load(toml);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Errors(o).Select(e => $"{e.Path}: {e.Message}"), Is.EqualTo(new[] { expected }));
            Assert.That(Errors(o)[0].Location?.Line, Is.EqualTo(1));
        }
    }

    [Test]
    public void ApplyText_WrongTypesInServices_ReportEachPath()
    {
        var o = Load("""
            [services.s]
            type = "transaction"
            description = 3
            descriptions = { a = true }

            [services.s.ops]
            a = [
              { table = "t", op_type = "insert", fields = ["x", 3] },
              { table = 1, op_type = "update", key = "id", defaults = { d = [1], e = { f = 1 } }, bind = { b = 0 } },
              "nope",
            ]
            b = "x"

            [services.l]
            type = "subpub"
            primary_table = ["t"]
            watch_tables = "t"
            change_log_size = "big"
            publish = { a = 1 }
            filterable = "a"

            [services.n]
            type = 7
            """);

        Assert.That(Errors(o).Select(e => $"{e.Location?.Line}: {e.Path}: {e.Message}"), Is.EqualTo(new[]
        {
            "3: services.s.description: expected a string, got integer 3",
            "4: services.s.descriptions.a: expected a string, got boolean true",
            "8: services.s.ops.a[0].fields[1]: expected a string, got integer 3",
            "9: services.s.ops.a[1].table: expected a string, got integer 1",
            "9: services.s.ops.a[1].key: expected an array of strings, got string 'id'",
            "9: services.s.ops.a[1].defaults.d: expected a string, number or boolean, got array",
            "9: services.s.ops.a[1].defaults.e: expected a string, number or boolean, got table",
            "9: services.s.ops.a[1].bind.b: expected a string, got integer 0",
            "7: services.s.ops.a[2]: expected an op table, got string 'nope'",
            "12: services.s.ops.b: expected an array of op tables, got string 'x'",
            "16: services.l.primary_table: expected a string, got array",
            "17: services.l.watch_tables: expected an array of strings, got string 't'",
            "18: services.l.change_log_size: expected an integer, got string 'big'",
            "19: services.l.publish.a: expected a string, got integer 1",
            "20: services.l.filterable: expected an array of strings, got string 'a'",
            "23: services.n.type: expected a string, got integer 7",
        }));
    }

    [Test]
    public void ApplyText_OpsNotArrayOrTable_ReportsTypeError()
    {
        var o = Load("""
            [services.s]
            type = "transaction"
            ops = "insert"
            """);

        Assert.That(Errors(o).Select(e => e.ToString()), Is.EqualTo(new[]
        {
            "mkio.toml(3,1): services.s.ops: expected an array of op tables or a table of named op sets, got string 'insert'",
        }));
    }

    [TestCase("prot = 80", "prot", "port")]
    [TestCase("db_pth = \"x\"", "db_pth", "db_path")]
    [TestCase("[tables.t]\ncolums = { id = \"TEXT\" }", "tables.t.colums", "columns")]
    [TestCase("[services.s]\ntype = \"subpub\"\nprimary_tabel = \"t\"", "services.s.primary_tabel", "primary_table")]
    [TestCase("[services.s]\ntype = \"transaction\"\nops = [{ table = \"t\", op_type = \"insert\", feilds = [\"a\"] }]", "services.s.ops[0].feilds", "fields")]
    [TestCase("[services.s]\ntype = \"stream\"\nbufer_size = 5", "services.s.bufer_size", "buffer_size")]
    public void ApplyText_UnknownKeyNearKnownOne_WarnsWithSuggestion(string toml, string path, string suggestion)
    {
        var o = Load(toml);

        var warnings = Warnings(o);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Errors(o), Is.Empty);
            Assert.That(warnings, Has.Count.EqualTo(1));
            Assert.That(warnings[0].Path, Is.EqualTo(path));
            Assert.That(warnings[0].Message, Does.StartWith("unknown key '" + path[(path.LastIndexOf('.') + 1)..] + "'"));
            Assert.That(warnings[0].Message, Does.EndWith($"did you mean '{suggestion}'?"));
            Assert.That(warnings[0].Location?.Line, Is.EqualTo(toml.Count(c => c == '\n') + 1));
        }
    }

    [Test]
    public void ApplyText_UnknownKeyFarFromAll_WarnsWithoutSuggestion()
    {
        var o = Load("completely_unrelated = 1");

        Assert.That(Warnings(o).Select(w => w.ToString()), Is.EqualTo(new[]
        {
            "mkio.toml(1,1): completely_unrelated: unknown key 'completely_unrelated' (ignored)",
        }));
    }

    [Test]
    public void ApplyText_KeyOfAnotherServiceType_WarnsDoesNotApply()
    {
        var o = Load("""
            [services.s]
            type = "stream"
            primary_table = "t"
            change_log_size = 5
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Warnings(o).Select(w => w.ToString()), Is.EqualTo(new[]
            {
                "mkio.toml(4,1): services.s.change_log_size: 'change_log_size' does not apply to stream services (ignored)",
            }));
            Assert.That(o.Services.Single().ChangeLogSize, Is.Null);
        }
    }

    [Test]
    public void ApplyText_LaterTopLevelKeys_AcceptedSilently()
    {
        var o = Load("""
            name = "order book"
            version = "1.2"
            [config]
            "/cfg" = "./configs"
            """);

        Assert.That(o.LoadDiagnostics, Is.Empty);
    }

    [Test]
    public void ApplyText_LaterVersionKeys_AreReadWithoutWarnings()
    {
        var o = Load("""
            [tables.t]
            columns = { id = "TEXT" }
            seed = "t.csv"

            [services.s]
            type = "subpub"
            primary_table = "t"
            key = "id"
            defaults = { x = "1" }
            access = "auth"

            [services.q]
            type = "query"
            primary_table = "t"
            max_buffer = 10
            """);

        var warnings = Warnings(o);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Errors(o), Is.Empty);
            Assert.That(warnings, Is.Empty, "every later key of this config is supported now");
            Assert.That(o.Services[0].Access, Is.EqualTo("auth"), "access is read, not warned about");
            Assert.That(o.Services[0].TopicDefaults, Is.EqualTo(new OrderedDictionary<string, string> { ["x"] = "1" }), "subpub defaults are read");
            Assert.That(o.Services[1].MaxBuffer, Is.EqualTo(10), "query max_buffer is read");
            Assert.That(o.Tables.Single().Columns.Keys, Is.EqualTo(new[] { "id" }));
            Assert.That(o.Tables.Single().Seed, Is.EqualTo("t.csv"));
        }
    }
}
