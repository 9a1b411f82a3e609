using System.Globalization;
using System.Text;
using Mkio;

namespace Mkio.Core.Tests.Configuration.Toml;

/// <summary>Helpers shared by the TOML loader tests.</summary>
internal static class TomlTestSupport
{
    public const string SourceName = "mkio.toml";

    /// <summary>The repository root: the first parent of the test directory holding Directory.Packages.props (or Mkio.sln / .git).</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (dir is not null)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Mkio.sln"))
                    || Directory.Exists(Path.Combine(dir.FullName, ".git"))
                    || (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props"))
                        && File.Exists(Path.Combine(dir.FullName, "Directory.Packages.props"))))
                {
                    return dir.FullName;
                }

                dir = dir.Parent;
            }

            throw new InvalidOperationException("Repository root not found above " + TestContext.CurrentContext.TestDirectory);
        }
    }

    public static string SeedPath => Path.Combine(RepoRoot, "samples", "OrderBook", "mkio.toml");

    public static MkioOptions Load(string toml)
    {
        var options = new MkioOptions();
        TomlConfigLoader.ApplyText(toml, SourceName, options);
        return options;
    }

    public static List<ConfigDiagnostic> Errors(MkioOptions options) =>
        [.. options.LoadDiagnostics.Where(d => d.Severity == ConfigSeverity.Error)];

    public static List<ConfigDiagnostic> Warnings(MkioOptions options) =>
        [.. options.LoadDiagnostics.Where(d => d.Severity == ConfigSeverity.Warning)];

    /// <summary>A canonical text form of everything the loader fills, for structural comparison.</summary>
    public static string Dump(MkioOptions o)
    {
        var sb = new StringBuilder();
        void Line(string text) => sb.Append(text).Append('\n');
        static string List(IEnumerable<string>? items) => items is null ? "null" : "[" + string.Join(", ", items) + "]";
        static string Map<T>(OrderedDictionary<string, T>? map) =>
            map is null ? "null" : "{" + string.Join(", ", map.Select(kv => kv.Key + "=" + Value(kv.Value))) + "}";
        static string Value(object? v) => v switch
        {
            null => "null",
            string s => "'" + s + "'",
            long l => "long:" + l.ToString(CultureInfo.InvariantCulture),
            double d => "double:" + d.ToString("R", CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            _ => v.GetType().Name + ":" + Convert.ToString(v, CultureInfo.InvariantCulture),
        };

        Line(FormattableString.Invariant(
            $"host={o.Host} port={o.Port} db={o.DbPath} bms={o.BatchMaxSize} bmw={o.BatchMaxWaitMs} cls={o.ChangeLogSize} wal={o.WalCheckpointIntervalS} am={o.AutoMigrate} bos={o.BackupOnStartup} bd={o.BackupDir} st={o.ShutdownTimeout}"));
        foreach (var t in o.Tables)
        {
            Line($"table {t.Name} append_only={t.AppendOnly} columns={Map(t.Columns)}");
        }

        foreach (var s in o.Services)
        {
            Line($"service {s.Name} type={s.Type} description={s.Description} publish={Map(s.Publish)} where={s.Where} filterable={List(s.Filterable)}");
            Line(FormattableString.Invariant(
                $"  primary={s.PrimaryTable} key={s.Key} watch={List(s.WatchTables)} sql={s.Sql} cls={s.ChangeLogSize} buf={s.BufferSize} named={s.OpsNamed} descriptions={Map(s.Descriptions)}"));
            Line($"  shorthand table={s.Table} op_type={s.OpType} fields={List(s.Fields)} key={List(s.KeyColumns)} extra={Map(s.Extra)}");
            foreach (var set in s.Ops)
            {
                Line($"  set {set.Name ?? "<unnamed>"}");
                foreach (var op in set.Steps)
                {
                    Line($"    op table={op.Table} op_type={op.OpType} fields={List(op.Fields)} key={List(op.Key)} defaults={Map(op.Defaults)} bind={Map(op.Bind)}");
                }
            }
        }

        foreach (var r in o.Static)
        {
            Line($"static {r.Prefix} -> {r.Directory}");
        }

        return sb.ToString();
    }
}
