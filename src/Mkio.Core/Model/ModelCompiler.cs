using System.Collections.Frozen;
using System.Globalization;
using Mkio.Expressions;

namespace Mkio.Model;

/// <summary>
/// Turns <see cref="MkioOptions"/> (from TOML or code) into the immutable <see cref="MkioModel"/>.
/// Every config rule lives here, and every problem is collected — not just the first — so one
/// start-up reports all of them (CONFIG.md §6–7).
/// </summary>
internal sealed partial class ModelCompiler
{
    private static readonly string[] KnownTypes = ["transaction", "subpub", "stream", "query", "reqrep"];
    private readonly MkioOptions _options;
    private readonly FunctionRegistry? _functions;
    private readonly IReadOnlyCollection<string> _customTypes;
    private readonly List<ConfigDiagnostic> _diagnostics = [];

    private ModelCompiler(MkioOptions options, FunctionRegistry? functions, IReadOnlyCollection<string>? customTypes)
    {
        _options = options;
        _functions = functions;
        _customTypes = customTypes ?? [];
    }

    /// <summary>Compiles or throws <see cref="MkioConfigurationException"/> listing every error.</summary>
    public static MkioModel Compile(MkioOptions options, FunctionRegistry? functions = null, IReadOnlyCollection<string>? customTypes = null)
    {
        var (model, errors) = TryCompile(options, functions, customTypes);
        return model ?? throw new MkioConfigurationException(options.SourceName, errors);
    }

    /// <summary>Compiles; returns the model, or null and the errors.</summary>
    public static (MkioModel? Model, IReadOnlyList<ConfigDiagnostic> Errors) TryCompile(
        MkioOptions options, FunctionRegistry? functions = null, IReadOnlyCollection<string>? customTypes = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var compiler = new ModelCompiler(options, functions, customTypes);
        var model = compiler.Run();
        var errors = compiler._diagnostics.Where(d => d.Severity == ConfigSeverity.Error).ToList();
        return errors.Count > 0 ? (null, errors) : (model, []);
    }

    /// <summary>True for names SQL may see unquoted: <c>[A-Za-z_][A-Za-z0-9_]*</c>.</summary>
    public static bool IsPlainIdentifier(string? name)
    {
        if (string.IsNullOrEmpty(name) || !(char.IsAsciiLetter(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (var ch in name)
        {
            if (!(char.IsAsciiLetterOrDigit(ch) || ch == '_'))
            {
                return false;
            }
        }

        return true;
    }

    private void Error(string path, string message) =>
        _diagnostics.Add(new(ConfigSeverity.Error, path, message, _options.Locations.Find(path)));

    /// <summary>An error of a top-level setting: the TOML key is the path; the message also names the host option key.</summary>
    private void TopError(string tomlKey, string option, string message) =>
        Error(tomlKey, $"{message[..^1]} (TOML '{tomlKey}', host option 'Mkio:{option}').");

    private MkioModel Run()
    {
        foreach (var d in _options.LoadDiagnostics)
        {
            _diagnostics.Add(d);
        }

        CheckTopLevel();
        var tables = CompileTables();
        // History tables are addressable (listeners, the journal, schema requests) but never listed among the tables.
        var byName = tables.Concat(tables.Where(t => t.History is not null).Select(t => t.History!)).ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);
        CheckArchives(tables);
        var services = new List<ServiceModel>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in _options.Services)
        {
            var path = $"services.{s.Name}";
            if (!seen.Add(s.Name))
            {
                Error(path, $"service '{s.Name}' is declared twice.");
                continue;
            }

            var model = CompileService(s, path, byName);
            if (model is not null)
            {
                services.Add(model);
            }
        }

        MarkWatchedHistory(services, byName);
        CheckPostgres(tables, services);
        CheckStatic();
        CheckLater(byName);
        CheckAccess();
        return new MkioModel
        {
            Options = _options,
            Tables = [.. tables],
            TablesByName = byName,
            Services = [.. services],
            ServicesByName = services.ToFrozenDictionary(s => s.Name, StringComparer.Ordinal),
            Warnings = [.. _diagnostics.Where(d => d.Severity == ConfigSeverity.Warning)],
        };
    }

    private void CheckTopLevel()
    {
        var o = _options;
        if (o.Port is < 0 or > 65535)
        {
            TopError("port", "Port", $"must be between 0 and 65535, got {o.Port}.");
        }

        if (o.Postgres is not null)
        {
            CheckPostgresSetting();
        }
        else if (string.IsNullOrWhiteSpace(o.DbPath))
        {
            TopError("db_path", "DbPath", "must not be empty (use \":memory:\" for an in-memory database).");
        }

        if (o.BatchMaxSize < 1)
        {
            TopError("batch_max_size", "BatchMaxSize", $"must be at least 1, got {o.BatchMaxSize}.");
        }

        if (o.BatchMaxWaitMs < 0 || double.IsNaN(o.BatchMaxWaitMs) || double.IsInfinity(o.BatchMaxWaitMs))
        {
            TopError("batch_max_wait_ms", "BatchMaxWaitMs", $"must be a finite number of milliseconds ≥ 0, got {o.BatchMaxWaitMs.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (o.ChangeLogSize < 1)
        {
            TopError("change_log_size", "ChangeLogSize", $"must be at least 1, got {o.ChangeLogSize}.");
        }

        if (o.ShutdownTimeout < 0 || double.IsNaN(o.ShutdownTimeout))
        {
            TopError("shutdown_timeout", "ShutdownTimeout", "must be a number of seconds ≥ 0.");
        }

        if (o.MaxMessageBytes < 1024)
        {
            Error("Mkio:MaxMessageBytes", "must be at least 1024 bytes.");
        }

        if (o.MaxSendQueueBytes < 1024)
        {
            Error("Mkio:MaxSendQueueBytes", "must be at least 1024 bytes.");
        }

        if (o.WsHeartbeatS < 0 || !double.IsFinite(o.WsHeartbeatS))
        {
            TopError("ws_heartbeat_s", "WsHeartbeatS", $"must be a finite number of seconds ≥ 0 (0 disables pings), got {o.WsHeartbeatS.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (o.WriterCacheSizeKib < 256)
        {
            Error("Mkio:WriterCacheSizeKib", $"must be at least 256 (KiB), got {o.WriterCacheSizeKib}.");
        }

        if (o.MmapSizeMib < 0)
        {
            Error("Mkio:MmapSizeMib", $"must be ≥ 0 (MiB; 0 turns memory-mapped reads off), got {o.MmapSizeMib}.");
        }

        if (o.MaxConnections < 0)
        {
            Error("Mkio:MaxConnections", $"must be ≥ 0 (0 = unlimited), got {o.MaxConnections}.");
        }

        if (o.MaxSubscriptionsPerService < 1)
        {
            Error("Mkio:MaxSubscriptionsPerService", $"must be at least 1, got {o.MaxSubscriptionsPerService}.");
        }

        var f = o.FilterLimits;
        if (f.MaxLength is < 1 or > Expressions.ExpressionLimits.MaxLength || f.MaxDepth is < 1 or > Expressions.ExpressionLimits.MaxDepth
            || f.MaxNodes < 1 || f.MaxResultLength < 0 || f.MaxWork < 1)
        {
            Error("Mkio:FilterLimits", $"MaxLength must be 1–{Expressions.ExpressionLimits.MaxLength}, MaxDepth 1–{Expressions.ExpressionLimits.MaxDepth}, MaxNodes and MaxWork at least 1, MaxResultLength at least 0.");
        }
    }

    private List<TableModel> CompileTables()
    {
        var result = new List<TableModel>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in _options.Tables)
        {
            var path = $"tables.{t.Name}";
            if (!seen.Add(t.Name))
            {
                Error(path, $"table '{t.Name}' is declared twice.");
                continue;
            }

            if (!IsPlainIdentifier(t.Name))
            {
                Error(path, $"table name '{t.Name}' is not a plain identifier (letters, digits and '_', not starting with a digit).");
                continue;
            }

            if ((t.Name.StartsWith("_mkio", StringComparison.Ordinal) && !IsAuthTable(t)) || t.Name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase))
            {
                Error(path, $"table name '{t.Name}' is reserved (names starting with '_mkio' or 'sqlite_').");
                continue;
            }

            if (t.Name.EndsWith(Versioning.VersionedSchema.HistorySuffix, StringComparison.OrdinalIgnoreCase))
            {
                Error(path, $"table name '{t.Name}' is reserved (names ending '{Versioning.VersionedSchema.HistorySuffix}' are history tables).");
                continue;
            }

            if (t.Columns.Count == 0)
            {
                Error($"{path}.columns", $"table '{t.Name}' has no columns; 'columns' is required.");
                continue;
            }

            var cols = new List<ColumnInfo>();
            foreach (var (name, def) in t.Columns)
            {
                var cpath = $"{path}.columns.{name}";
                if (name == MkioSchema.RefColumn)
                {
                    Error(cpath, "'_mkio_ref' is added by mkio to every table; do not declare it.");
                    continue;
                }

                if (t.Versioned && name.StartsWith("_mkio_", StringComparison.Ordinal))
                {
                    Error(cpath, $"a versioned table may not declare '_mkio_*' columns ('{name}').");
                    continue;
                }

                if (!IsPlainIdentifier(name))
                {
                    Error(cpath, $"column name '{name}' is not a plain identifier.");
                    continue;
                }

                if (def.Contains(';', StringComparison.Ordinal))
                {
                    Error(cpath, $"column definition '{def}' must not contain ';'.");
                    continue;
                }

                cols.Add(new ColumnInfo(name, def));
            }

            if (cols.Count(c => c.PrimaryKey) > 1)
            {
                Error($"{path}.columns", $"table '{t.Name}' declares more than one PRIMARY KEY column; SQLite allows one column-level primary key.");
            }

            var tableKey = CompilePrimaryKey(t, path, cols);
            result.Add(CompileVersioning(t, path, cols, tableKey));
        }

        return result;
    }

    private ServiceModel? CompileService(MkioServiceOptions s, string path, FrozenDictionary<string, TableModel> tables)
    {
        var type = s.Type ?? string.Empty;
        if (!KnownTypes.Contains(type) && !_customTypes.Contains(type))
        {
            Error($"{path}.type", $"Unknown service type: '{type}' for service '{s.Name}'");
            return null;
        }

        var publish = CompilePublish(s, path);
        var where = CompileExpression(s.Where, $"{path}.where");
        return type switch
        {
            "transaction" => CompileTransaction(s, path, tables, publish, where),
            "subpub" => CompileListener(s, path, tables, ListenerKind.SubPub, publish, where),
            "stream" => CompileListener(s, path, tables, ListenerKind.Stream, publish, where),
            "query" => CompileListener(s, path, tables, ListenerKind.Query, publish, where),
            "reqrep" => CompileReqRep(s, path),
            _ => new CustomServiceModel(s) { Publish = publish, Where = where, Filterable = [.. s.Filterable ?? []], WatchTables = [.. s.WatchTables ?? (s.PrimaryTable is null ? [] : [s.PrimaryTable])] },
        };
    }

    private CompiledFormatter? CompilePublish(MkioServiceOptions s, string path)
    {
        if (s.Publish is null || s.Publish.Count == 0)
        {
            return null;
        }

        var ok = true;
        foreach (var (field, text) in s.Publish)
        {
            if (CompileExpression(text, $"{path}.publish.{field}") is null)
            {
                ok = false;
            }
        }

        if (!ok)
        {
            return null;
        }

        try
        {
            return CompiledFormatter.Compile(s.Publish, _functions);
        }
        catch (ExpressionException ex)
        {
            Error($"{path}.publish", ex.Message);
            return null;
        }
    }

    private CompiledExpression? CompileExpression(string? text, string path)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            return CompiledExpression.Compile(text, _functions);
        }
        catch (ExpressionException ex)
        {
            Error(path, $"invalid expression '{text}': {ex.Message}");
            return null;
        }
    }

    private TransactionServiceModel? CompileTransaction(MkioServiceOptions s, string path, FrozenDictionary<string, TableModel> tables, CompiledFormatter? publish, CompiledExpression? where)
    {
        var sets = new List<(MkioOpSetOptions Set, string Path)>();
        var named = s.OpsNamed;
        var shorthand = s.Ops.Count == 0 && s.Table is not null;
        if (shorthand)
        {
            // Shorthand (CONFIG.md §4.2): table/op_type/fields/key become a one-op unnamed set.
            if (string.IsNullOrEmpty(s.OpType))
            {
                Error($"{path}.op_type", $"service '{s.Name}' uses the 'table' shorthand but has no 'op_type' (insert, update, delete or upsert).");
                return null;
            }

            var op = new MkioOpOptions { Table = s.Table, OpType = s.OpType };
            foreach (var f in s.Fields ?? [])
            {
                op.Fields.Add(f);
            }

            foreach (var k in s.KeyColumns ?? [])
            {
                op.Key.Add(k);
            }

            var set = new MkioOpSetOptions(null);
            set.Steps.Add(op);
            sets.Add((set, path));
            named = false;
        }
        else
        {
            foreach (var set in s.Ops)
            {
                sets.Add((set, set.Name is null ? $"{path}.ops" : $"{path}.ops.{set.Name}"));
            }
        }

        if (sets.Count == 0)
        {
            Error(path, $"transaction service '{s.Name}' has no ops: set 'ops', or 'table' + 'op_type' (+ 'fields'/'key').");
            return null;
        }

        var compiled = new List<OpSetModel>();
        var tableNames = new List<string>();
        var ok = true;
        foreach (var (set, setPath) in sets)
        {
            if (set.Steps.Count == 0)
            {
                Error(setPath, "op set has no ops.");
                ok = false;
                continue;
            }

            var ops = new List<OpModel>();
            for (var j = 0; j < set.Steps.Count; j++)
            {
                // The shorthand's op keys live on the service itself (services.<name>.table, .fields…).
                var op = CompileOp(set.Steps[j], j, shorthand ? setPath : $"{setPath}[{j}]", tables, ops);
                if (op is null)
                {
                    ok = false;
                    continue;
                }

                ops.Add(op);
                if (!tableNames.Contains(op.Table.Name))
                {
                    tableNames.Add(op.Table.Name);
                }
            }

            compiled.Add(new OpSetModel { Name = named ? set.Name : null, Ops = [.. ops] });
        }

        var cacheSize = s.ChangeLogSize ?? 10000;
        if (cacheSize < 1)
        {
            Error($"{path}.change_log_size", $"must be at least 1, got {cacheSize}.");
            ok = false;
        }

        return ok
            ? new TransactionServiceModel(s)
            {
                OpSets = [.. compiled],
                Named = named,
                ResultCacheSize = cacheSize,
                Tables = [.. tableNames],
                Publish = publish,
                Where = where,
                Filterable = [.. s.Filterable ?? []],
            }
            : null;
    }

    private OpModel? CompileOp(MkioOpOptions o, int index, string path, FrozenDictionary<string, TableModel> tables, List<OpModel> earlier)
    {
        var ok = true;
        if (string.IsNullOrEmpty(o.Table))
        {
            Error($"{path}.table", "op has no 'table'.");
            return null;
        }

        if (!tables.TryGetValue(o.Table, out var table))
        {
            Error($"{path}.table", $"unknown table '{o.Table}'{Suggest(o.Table, tables.Keys)}; declare it under [tables].");
            return null;
        }

        OpType type;
        switch (o.OpType)
        {
            case "insert": type = OpType.Insert; break;
            case "update": type = OpType.Update; break;
            case "delete": type = OpType.Delete; break;
            case "upsert": type = OpType.Upsert; break;
            case "undo": type = OpType.Undo; break;
            case "redo": type = OpType.Redo; break;
            default:
                Error($"{path}.op_type", $"Unknown operation type: {o.OpType ?? "None"} (use insert, update, delete, upsert, undo or redo)");
                return null;
        }

        void CheckColumns(IEnumerable<string> names, string key)
        {
            foreach (var n in names)
            {
                if (table.Find(n) is null)
                {
                    Error($"{path}.{key}", n == MkioSchema.RefColumn
                        ? "'_mkio_ref' is set by mkio and cannot be written by an op."
                        : $"table '{table.Name}' has no column '{n}'{Suggest(n, table.Columns.Select(c => c.Name))}.");
                    ok = false;
                }
            }
        }

        if (table.HistoryOf is not null)
        {
            Error($"{path}.table", $"table '{table.Name}' is a history table and is read-only.");
            return null;
        }

        if (type is OpType.Undo or OpType.Redo && !CheckUndoRedo(o, path, table))
        {
            return null;
        }

        CheckColumns(o.Fields, "fields");
        CheckColumns(o.Key, "key");
        CheckColumns(o.Defaults.Keys, "defaults");
        CheckColumns(o.Bind.Keys, "bind");
        if (type != OpType.Insert && o.Key.Count == 0)
        {
            Error($"{path}.key", $"a{(type is OpType.Update or OpType.Upsert ? "n" : string.Empty)} {o.OpType} op needs 'key' (the columns that identify rows).");
            ok = false;
        }

        if (type == OpType.Delete && o.Fields.Count > 0)
        {
            // Accepted (the reference ignores them) — nothing to do.
        }

        foreach (var (col, value) in o.Defaults)
        {
            if (value is not (null or string or long or int or double or bool or float))
            {
                Error($"{path}.defaults.{col}", $"default must be a string, number or boolean, got {value.GetType().Name}.");
                ok = false;
            }
        }

        var binds = new Dictionary<string, BindRef>(StringComparer.Ordinal);
        foreach (var (col, raw) in o.Bind)
        {
            var bpath = $"{path}.bind.{col}";
            var dot = raw.IndexOf('.', StringComparison.Ordinal);
            if (!raw.StartsWith('$') || dot < 0)
            {
                Error(bpath, $"Invalid bind reference: '{raw}' (must be '$N.field')");
                ok = false;
                continue;
            }

            if (!int.TryParse(raw.AsSpan(1, dot - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                Error(bpath, $"Invalid bind reference: '{raw}' (must be '$N.field'; '{raw[1..dot]}' is not an op number)");
                ok = false;
                continue;
            }

            var source = raw[(dot + 1)..];
            if (n >= index)
            {
                Error(bpath, index == 0
                    ? $"'{raw}' refers to op {n}; no op precedes op 0."
                    : $"'{raw}' refers to op {n}; only op{(index == 1 ? " 0 precedes" : $"s 0–{index - 1} precede")} it.");
                ok = false;
                continue;
            }

            // earlier holds only the ops that compiled: find op n by its index, not its position.
            if (earlier.Find(e => e.Index == n) is { } src && src.Type != OpType.Delete && !src.Table.Has(source))
            {
                Error(bpath, $"'{raw}': op {n} writes table '{src.Table.Name}', which has no column '{source}'.");
                ok = false;
                continue;
            }

            binds[col] = new BindRef(n, source, raw);
        }

        if (!ok)
        {
            return null;
        }

        // SERVICES.md §5.1: all = F + (bound not in F) + defaulted.
        var all = new List<string>(o.Fields);
        foreach (var b in o.Bind.Keys)
        {
            if (!all.Contains(b))
            {
                all.Add(b);
            }
        }

        foreach (var d in o.Defaults.Keys)
        {
            if (!o.Fields.Contains(d) && !o.Bind.ContainsKey(d))
            {
                all.Add(d);
            }
        }

        var key = o.Key.ToArray();
        OpParam Make(string name, bool isKey)
        {
            if (binds.TryGetValue(name, out var b))
            {
                return new OpParam(name, ParamSource.Bind, isKey, false, false, null, b);
            }

            var col = table.Find(name)!;
            var hasDefault = o.Defaults.TryGetValue(name, out var dv);
            var optional = !isKey && !hasDefault && col.Optional && !key.Contains(name);
            return new OpParam(name, ParamSource.Data, isKey, optional, hasDefault, dv, default);
        }

        var refParam = new OpParam(MkioSchema.RefColumn, ParamSource.Ref, false, false, false, null, default);
        OpParam[] ps = type switch
        {
            OpType.Insert => [.. all.Select(n => Make(n, false)), refParam],
            OpType.Update => [.. all.Select(n => Make(n, false)), refParam, .. key.Select(k => Make(k, true))],
            OpType.Delete or OpType.Undo or OpType.Redo => [.. key.Select(k => Make(k, true))],
            _ => [.. key.Select(k => Make(k, true)), .. all.Where(n => !key.Contains(n)).Select(n => Make(n, false)), refParam],
        };

        return new OpModel
        {
            Index = index,
            Table = table,
            Type = type,
            OpTypeName = o.OpType!,
            Fields = [.. o.Fields],
            Key = key,
            Defaults = o.Defaults,
            BindRaw = o.Bind,
            Params = ps,
        };
    }

    private ListenerServiceModel? CompileListener(MkioServiceOptions s, string path, FrozenDictionary<string, TableModel> tables, ListenerKind kind, CompiledFormatter? publish, CompiledExpression? where)
    {
        var ok = true;
        if (string.IsNullOrEmpty(s.PrimaryTable))
        {
            Error($"{path}.primary_table", $"{kind.ToString().ToLowerInvariant()} service '{s.Name}' needs 'primary_table'.");
            return null;
        }

        if (!tables.TryGetValue(s.PrimaryTable, out var primary))
        {
            if (HistoryTableError(s.PrimaryTable, tables) is { } historyError)
            {
                Error($"{path}.primary_table", historyError);
                return null;
            }

            Error($"{path}.primary_table", $"unknown table '{s.PrimaryTable}'{Suggest(s.PrimaryTable, tables.Keys)}; declare it under [tables].");
            return null;
        }

        var watch = s.WatchTables is { Count: > 0 } w ? w.ToArray() : [primary.Name];
        foreach (var t in watch)
        {
            if (!tables.ContainsKey(t))
            {
                Error($"{path}.watch_tables", $"unknown table '{t}'{Suggest(t, tables.Keys)} in watch_tables.");
                ok = false;
            }
        }

        string? key = null;
        if (kind == ListenerKind.SubPub)
        {
            key = s.Key;
            if (string.IsNullOrEmpty(key))
            {
                Error($"{path}.key", $"subpub service '{s.Name}' needs 'key' (the cache key column).");
                ok = false;
            }
            else if (s.Sql is null && !primary.Has(key))
            {
                Error($"{path}.key", $"table '{primary.Name}' has no column '{key}'{Suggest(key, primary.Columns.Select(c => c.Name))}.");
                ok = false;
            }
        }

        var filterable = s.Filterable?.ToArray() ?? [];
        if (filterable.Length > 0 && s.Sql is null)
        {
            // CONFIG.md §7: every field must be a column of a watched table (exact reference text).
            foreach (var f in filterable)
            {
                if (!watch.Any(t => tables.TryGetValue(t, out var tm) && tm.Has(f)))
                {
                    Error($"{path}.filterable", $"Service '{s.Name}': filterable field '{f}' not found in tables [{string.Join(", ", watch.Select(t => $"'{t}'"))}]");
                    ok = false;
                }
            }
        }

        var changeLog = s.ChangeLogSize ?? _options.ChangeLogSize;
        var buffer = s.BufferSize ?? 10000;
        if (changeLog < 1)
        {
            Error($"{path}.change_log_size", $"must be at least 1, got {changeLog}.");
            ok = false;
        }

        if (buffer < 1)
        {
            Error($"{path}.buffer_size", $"must be at least 1, got {buffer}.");
            ok = false;
        }

        if (s.Sql is not null && s.Sql.Contains(';', StringComparison.Ordinal))
        {
            Error($"{path}.sql", "must be a single SELECT statement (no ';').");
            ok = false;
        }

        var (maxBuffer, topicDefaults) = CompileListenerLater(s, path, primary, ref ok);

        return ok
            ? new ListenerServiceModel(s)
            {
                Kind = kind,
                PrimaryTable = primary,
                WatchTables = watch,
                Sql = s.Sql ?? $"SELECT * FROM {MkioSchema.Id(primary.Name)}",
                Key = key,
                ChangeLogSize = changeLog,
                BufferSize = buffer,
                MaxBuffer = maxBuffer,
                TopicDefaults = topicDefaults,
                Publish = publish,
                Where = where,
                Filterable = filterable,
            }
            : null;
    }

    private void CheckStatic()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var route in _options.Static)
        {
            var path = $"static.{route.Prefix}";
            if (!route.Prefix.StartsWith('/'))
            {
                Error(path, $"route prefix '{route.Prefix}' must start with '/'.");
            }

            if (!seen.Add(route.Prefix))
            {
                Error(path, $"route prefix '{route.Prefix}' is declared twice.");
            }

            var full = Path.GetFullPath(route.Directory);
            if (!Directory.Exists(full))
            {
                Error(path, $"directory '{route.Directory}' does not exist (resolved against the working directory to '{full}').");
            }
        }
    }

    private static string Suggest(string value, IEnumerable<string> candidates)
    {
        var best = candidates
            .Select(c => (c, d: Levenshtein(value, c)))
            .Where(x => x.d <= Math.Max(2, value.Length / 3))
            .OrderBy(x => x.d)
            .Select(x => x.c)
            .FirstOrDefault();
        return best is null ? string.Empty : $" (did you mean '{best}'?)";
    }

    /// <summary>
    /// A runtime name error's tail after its fixed prefix, as later mkio versions word it:
    /// <c>. Available ops: new, accept. Did you mean 'new'?</c>
    /// </summary>
    internal static string AvailableTail(string what, string? value, IReadOnlyCollection<string> candidates)
    {
        // Case-insensitive, a transposition is one edit ('NEW' and 'nwe' point at 'new'); no edit distances over
        // client-sized strings.
        var best = value is not { Length: <= 64 } ? null : candidates
            .Select(c => (c, d: TomlConfigKeys.Distance(value, c)))
            .Where(x => x.d <= Math.Max(1, value.Length / 3))
            .OrderBy(x => x.d)
            .Select(x => x.c)
            .FirstOrDefault();
        return $". Available {what}: {string.Join(", ", candidates)}" + (best is null ? string.Empty : $". Did you mean '{best}'?");
    }

    internal static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            prev[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }

            (prev, cur) = (cur, prev);
        }

        return prev[b.Length];
    }
}
