using System.Globalization;
using System.Text;
using Mkio.Data;
using Mkio.Model;

namespace Mkio.Core.Tests.Model;

/// <summary>Helpers for the model compiler tests: TOML in, model or error lines out, and a structural dump.</summary>
internal static class ModelTestSupport
{
    public const string SourceName = "mkio.toml";

    /// <summary>Options loaded from TOML text, as <c>AddMkio("mkio.toml")</c> would load them.</summary>
    public static MkioOptions Toml(string text)
    {
        var options = new MkioOptions();
        TomlConfigLoader.ApplyText(text, SourceName, options);
        return options;
    }

    /// <summary>Compiles and fails the test with every error if the config is invalid.</summary>
    public static MkioModel Compile(MkioOptions options)
    {
        var (model, errors) = ModelCompiler.TryCompile(options);
        Assert.That(errors.Select(e => e.ToString()), Is.Empty, "the config should compile");
        return model!;
    }

    public static MkioModel CompileToml(string text) => Compile(Toml(text));

    /// <summary>The errors of an invalid config, formatted <c>file(line,col): path: message</c>.</summary>
    public static List<string> Errors(MkioOptions options)
    {
        var (model, errors) = ModelCompiler.TryCompile(options);
        Assert.That(model, Is.Null, "the config should not compile");
        return [.. errors.Select(e => e.ToString())];
    }

    public static List<string> TomlErrors(string text) => Errors(Toml(text));

    public static List<string> CodeErrors(Action<MkioOptions> configure)
    {
        var options = new MkioOptions { DbPath = ":memory:" };
        configure(options);
        return Errors(options);
    }

    public static MkioModel CompileCode(Action<MkioOptions> configure)
    {
        var options = new MkioOptions { DbPath = ":memory:" };
        configure(options);
        return Compile(options);
    }

    public static Row MakeRow(params (string Name, object? Value)[] columns) =>
        new(new RowSchema([.. columns.Select(c => c.Name)]), [.. columns.Select(c => c.Value)]);

    /// <summary>A canonical text form of everything the compiled model holds, for structural comparison.</summary>
    public static string Dump(MkioModel m)
    {
        var sb = new StringBuilder();
        void Line(string text) => sb.Append(text).Append('\n');
        static string List(IEnumerable<string> items) => "[" + string.Join(", ", items) + "]";
        static string Value(object? v) => v switch
        {
            null => "null",
            string s => "'" + s + "'",
            int or long => "int:" + Convert.ToString(v, CultureInfo.InvariantCulture),
            double or float => "float:" + Convert.ToString(v, CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            _ => v.GetType().Name + ":" + Convert.ToString(v, CultureInfo.InvariantCulture),
        };

        Line(FormattableString.Invariant($"db={m.Options.DbPath} bms={m.Options.BatchMaxSize} bmw={m.Options.BatchMaxWaitMs} cls={m.Options.ChangeLogSize} inmem={m.InMemory}"));
        foreach (var t in m.Tables)
        {
            Line($"table {t.Name} append_only={t.AppendOnly} pk={List(t.PrimaryKey.Select(c => c.Name))}");
            foreach (var c in t.Columns)
            {
                Line($"  column {c.Name} def='{c.Definition}' type={c.Type} notnull={c.NotNull} pk={c.PrimaryKey} default={c.Default ?? "null"} autoinc={c.AutoIncrement} optional={c.Optional}");
            }
        }

        foreach (var s in m.Services)
        {
            Line($"service {s.Name} class={s.GetType().Name} type={s.Type} description={s.Description ?? "null"} filterable={List(s.Filterable)}");
            Line($"  publish={(s.Publish is null ? "null" : List(s.Publish.OutputSchema.Names.Zip(s.Publish.Expressions, (n, e) => n + "=" + e.Text)))} where={s.Where?.Text ?? "null"}");
            switch (s)
            {
                case TransactionServiceModel tx:
                    Line(FormattableString.Invariant($"  named={tx.Named} cache={tx.ResultCacheSize} tables={List(tx.Tables)}"));
                    foreach (var set in tx.OpSets)
                    {
                        Line($"  set {set.Name ?? "<unnamed>"} display={set.DisplayName}");
                        foreach (var op in set.Ops)
                        {
                            Line(FormattableString.Invariant($"    op {op.Index} {op.Table.Name} {op.Type} '{op.OpTypeName}' fields={List(op.Fields)} key={List(op.Key)} defaults={List(op.Defaults.Select(d => d.Key + "=" + Value(d.Value)))} bind={List(op.BindRaw.Select(b => b.Key + "=" + b.Value))}"));
                            foreach (var p in op.Params)
                            {
                                Line(FormattableString.Invariant($"      param {p.Name} {p.Source} key={p.IsKey} optional={p.Optional} hasDefault={p.HasDefault} default={Value(p.DefaultValue)} bind={p.Bind}"));
                            }
                        }
                    }

                    break;
                case ListenerServiceModel l:
                    Line(FormattableString.Invariant($"  kind={l.Kind} primary={l.PrimaryTable.Name} watch={List(l.WatchTables)} sql='{l.Sql}' custom_sql={l.HasCustomSql} key={l.Key ?? "null"} change_log={l.ChangeLogSize} buffer={l.BufferSize}"));
                    break;
                case CustomServiceModel c:
                    Line($"  watch={List(c.WatchTables)}");
                    break;
            }
        }

        foreach (var r in m.Options.Static)
        {
            Line($"static {r.Prefix} -> {r.Directory}");
        }

        return sb.ToString();
    }
}
