namespace Mkio;

public sealed partial class MkioOptions
{
    /// <summary>
    /// Stores tables and the journal in PostgreSQL instead of SQLite (code-first equivalent of the top-level
    /// <c>postgres</c> key). Every process started with the same configuration is a node of one cluster.
    /// </summary>
    /// <param name="connectionString">An Npgsql connection string, e.g. <c>Host=db;Database=app;Username=mkio;Password=…</c>.</param>
    /// <returns>The same options, so that multiple calls can be chained.</returns>
    public MkioOptions UsePostgres(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        Postgres = connectionString;
        return this;
    }

    /// <summary>Declares a table (code-first equivalent of <c>[tables.&lt;name&gt;]</c>).</summary>
    /// <param name="name">The table name.</param>
    /// <param name="configure">Adds the columns.</param>
    /// <returns>The same options, so that multiple calls can be chained.</returns>
    public MkioOptions Table(string name, Action<MkioTableBuilder> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        var table = new MkioTableOptions(name);
        configure(new MkioTableBuilder(table));
        Tables.Add(table);
        return this;
    }

    /// <summary>Declares a transaction service.</summary>
    /// <param name="name">The service name.</param>
    /// <param name="configure">Adds the op sets.</param>
    /// <returns>The same options, so that multiple calls can be chained.</returns>
    public MkioOptions Transaction(string name, Action<MkioTransactionBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var service = AddService(name, "transaction");
        configure(new MkioTransactionBuilder(service));
        return this;
    }

    /// <summary>Declares a subpub service (keyed in-memory cache with live push).</summary>
    /// <param name="name">The service name.</param>
    /// <param name="configure">Sets the table, key and options.</param>
    /// <returns>The same options, so that multiple calls can be chained.</returns>
    public MkioOptions SubPub(string name, Action<MkioListenerBuilder> configure) => Listener(name, "subpub", configure);

    /// <summary>Declares a stream service (append-only ring buffer).</summary>
    /// <param name="name">The service name.</param>
    /// <param name="configure">Sets the table and options.</param>
    /// <returns>The same options, so that multiple calls can be chained.</returns>
    public MkioOptions Stream(string name, Action<MkioListenerBuilder> configure) => Listener(name, "stream", configure);

    /// <summary>Declares a query service (snapshot from SQLite plus change feed).</summary>
    /// <param name="name">The service name.</param>
    /// <param name="configure">Sets the table and options.</param>
    /// <returns>The same options, so that multiple calls can be chained.</returns>
    public MkioOptions Query(string name, Action<MkioListenerBuilder> configure) => Listener(name, "query", configure);

    /// <summary>Serves a directory under a URL prefix (code-first <c>[static]</c> entry).</summary>
    /// <param name="prefix">URL prefix; <c>/</c> serves <c>index.html</c> at <c>/</c> and the folder under <c>/static/</c>.</param>
    /// <param name="directory">Directory relative to the working directory.</param>
    /// <returns>The same options, so that multiple calls can be chained.</returns>
    public MkioOptions StaticFiles(string prefix, string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Static.Add(new MkioStaticRoute(prefix, directory));
        return this;
    }

    private MkioOptions Listener(string name, string type, Action<MkioListenerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var service = AddService(name, type);
        configure(new MkioListenerBuilder(service));
        return this;
    }

    private MkioServiceOptions AddService(string name, string type)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var service = new MkioServiceOptions(name) { Type = type };
        Services.Add(service);
        return service;
    }
}

/// <summary>Fluent builder of one table's columns.</summary>
public sealed class MkioTableBuilder
{
    private readonly MkioTableOptions _table;

    internal MkioTableBuilder(MkioTableOptions table) => _table = table;

    /// <summary>Adds a column.</summary>
    /// <param name="name">Column name.</param>
    /// <param name="definition">SQLite column definition, e.g. <c>TEXT NOT NULL</c>.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTableBuilder Column(string name, string definition)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(definition);
        _table.Columns[name] = definition;
        return this;
    }

    /// <summary>Marks the table append-only (informational).</summary>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTableBuilder AppendOnly()
    {
        _table.AppendOnly = true;
        return this;
    }

    /// <summary>
    /// Gives the table a table-level, possibly composite primary key (<c>primary_key = [cols]</c>): its DDL gets
    /// <c>PRIMARY KEY (a, b)</c>. No column may then declare <c>PRIMARY KEY</c> itself.
    /// </summary>
    /// <param name="columns">The key's columns, in key order.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTableBuilder PrimaryKey(params string[] columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        _table.PrimaryKey = [.. columns];
        return this;
    }

    /// <summary>
    /// Makes the table versioned (<c>versioned = true</c>): every change is kept in <c>&lt;table&gt;__history</c>, and the
    /// <c>undo</c>/<c>redo</c> op types step rows through their versions. The table needs a primary key.
    /// </summary>
    /// <param name="unversioned">Columns neither recorded nor restored (<c>unversioned</c>).</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTableBuilder Versioned(params string[] unversioned)
    {
        ArgumentNullException.ThrowIfNull(unversioned);
        _table.Versioned = true;
        _table.Unversioned.Clear();
        foreach (var c in unversioned)
        {
            _table.Unversioned.Add(c);
        }

        return this;
    }

    /// <summary>Lets <c>mkio archive</c> move the table's rows to CSV (<c>archive = {…}</c>). The table needs a primary key.</summary>
    /// <param name="cutoff">The column compared with the cutoff; null archives the whole table.</param>
    /// <param name="group">The group <c>--group</c> selects the table by.</param>
    /// <param name="format">The strftime format of the rendered cutoff.</param>
    /// <param name="with">Companion tables sharing the key, archived with the table's rows.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTableBuilder Archive(string? cutoff = null, string group = "data", string format = "%Y-%m-%d %H:%M:%S", params string[] with)
    {
        ArgumentNullException.ThrowIfNull(with);
        var archive = new MkioArchiveOptions { Cutoff = cutoff, Group = group, Format = format };
        foreach (var w in with)
        {
            archive.With.Add(w);
        }

        _table.Archive = archive;
        return this;
    }
}

/// <summary>Fluent builder of a transaction service.</summary>
public sealed class MkioTransactionBuilder
{
    private readonly MkioServiceOptions _service;

    internal MkioTransactionBuilder(MkioServiceOptions service) => _service = service;

    /// <summary>
    /// Who may use the service (<c>access</c>): <c>"open"</c>, <c>"auth"</c> (any authenticated user) or an
    /// authorization policy or role name. Setting it turns access control on.
    /// </summary>
    /// <param name="access">The access value.</param>
    /// <returns>This builder.</returns>
    public MkioTransactionBuilder Access(string access)
    {
        _service.Access = access;
        return this;
    }

    /// <summary>Requires the authorization policy (or role) <paramref name="policy"/>; same as <see cref="Access"/>.</summary>
    /// <param name="policy">A policy registered with <c>AddAuthorization</c>, or a role name.</param>
    /// <returns>This builder.</returns>
    public MkioTransactionBuilder RequireAuthorization(string policy) => Access(policy);

    /// <summary>Who may monitor the service (<c>monitor_access</c>); same values as <see cref="Access"/>.</summary>
    /// <param name="access">The access value.</param>
    /// <returns>This builder.</returns>
    public MkioTransactionBuilder MonitorAccess(string access)
    {
        _service.MonitorAccess = access;
        return this;
    }

    /// <summary>Adds a named op set, selected by the request's <c>op</c>.</summary>
    /// <param name="name">The op-set name.</param>
    /// <param name="configure">Adds the ops in order.</param>
    /// <param name="description">Optional description for discovery.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTransactionBuilder Op(string name, Action<MkioOpSetBuilder> configure, string? description = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        _service.OpsNamed = true;
        var set = new MkioOpSetOptions(name);
        configure(new MkioOpSetBuilder(set));
        _service.Ops.Add(set);
        if (description is not null)
        {
            (_service.Descriptions ??= new(StringComparer.Ordinal))[name] = description;
        }

        return this;
    }

    /// <summary>Adds an op to the unnamed op set (the list form of <c>ops</c>).</summary>
    /// <param name="configure">Adds the ops in order.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTransactionBuilder Ops(Action<MkioOpSetBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var set = _service.Ops.FirstOrDefault(s => s.Name is null);
        if (set is null)
        {
            set = new MkioOpSetOptions(null);
            _service.Ops.Add(set);
        }

        configure(new MkioOpSetBuilder(set));
        return this;
    }

    /// <summary>Shorthand: one insert op in the unnamed set.</summary>
    /// <param name="table">Target table.</param>
    /// <param name="fields">Columns taken from the request data.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTransactionBuilder Insert(string table, IEnumerable<string> fields) => Ops(o => o.Insert(table, fields));

    /// <summary>Shorthand: one update op in the unnamed set.</summary>
    /// <param name="table">Target table.</param>
    /// <param name="key">Columns identifying the row.</param>
    /// <param name="fields">Columns to set.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTransactionBuilder Update(string table, IEnumerable<string> key, IEnumerable<string> fields) => Ops(o => o.Update(table, key, fields));

    /// <summary>Shorthand: one delete op in the unnamed set.</summary>
    /// <param name="table">Target table.</param>
    /// <param name="key">Columns identifying the rows.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTransactionBuilder Delete(string table, IEnumerable<string> key) => Ops(o => o.Delete(table, key));

    /// <summary>Shorthand: one upsert op in the unnamed set.</summary>
    /// <param name="table">Target table.</param>
    /// <param name="key">Conflict target columns.</param>
    /// <param name="fields">Columns inserted or updated.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTransactionBuilder Upsert(string table, IEnumerable<string> key, IEnumerable<string> fields) => Ops(o => o.Upsert(table, key, fields));

    /// <summary>Sets the service description.</summary>
    /// <param name="description">Free text for discovery.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTransactionBuilder Description(string description)
    {
        _service.Description = description;
        return this;
    }

    /// <summary>Sets the result-cache size used by <c>check</c> (<c>change_log_size</c>).</summary>
    /// <param name="size">Number of results kept.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioTransactionBuilder ChangeLogSize(int size)
    {
        _service.ChangeLogSize = size;
        return this;
    }
}

/// <summary>Fluent builder of one op set.</summary>
public sealed class MkioOpSetBuilder
{
    private readonly MkioOpSetOptions _set;

    internal MkioOpSetBuilder(MkioOpSetOptions set) => _set = set;

    /// <summary>Who may run this op set (<c>access</c>); overrides the service's access. Setting it turns access control on.</summary>
    /// <param name="access"><c>"open"</c>, <c>"auth"</c> or an authorization policy or role name.</param>
    /// <returns>This builder.</returns>
    public MkioOpSetBuilder Access(string access)
    {
        _set.Access = access;
        return this;
    }

    /// <summary>Requires the authorization policy (or role) <paramref name="policy"/>; same as <see cref="Access"/>.</summary>
    /// <param name="policy">A policy registered with <c>AddAuthorization</c>, or a role name.</param>
    /// <returns>This builder.</returns>
    public MkioOpSetBuilder RequireAuthorization(string policy) => Access(policy);

    /// <summary>Adds an insert op.</summary>
    /// <param name="table">Target table.</param>
    /// <param name="fields">Columns taken from the request data.</param>
    /// <param name="defaults">Column → constant used when the request lacks it.</param>
    /// <param name="bind">Column → <c>$N.col</c> reference to an earlier op's row.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioOpSetBuilder Insert(string table, IEnumerable<string>? fields = null, IDictionary<string, object?>? defaults = null, IDictionary<string, string>? bind = null)
        => Add("insert", table, null, fields, defaults, bind);

    /// <summary>Adds an update op.</summary>
    /// <param name="table">Target table.</param>
    /// <param name="key">Columns identifying the rows.</param>
    /// <param name="fields">Columns to set.</param>
    /// <param name="defaults">Column → constant used when the request lacks it.</param>
    /// <param name="bind">Column → <c>$N.col</c> reference to an earlier op's row.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioOpSetBuilder Update(string table, IEnumerable<string> key, IEnumerable<string>? fields = null, IDictionary<string, object?>? defaults = null, IDictionary<string, string>? bind = null)
        => Add("update", table, key, fields, defaults, bind);

    /// <summary>Adds a delete op.</summary>
    /// <param name="table">Target table.</param>
    /// <param name="key">Columns identifying the rows.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioOpSetBuilder Delete(string table, IEnumerable<string> key) => Add("delete", table, key, null, null, null);

    /// <summary>Adds an upsert op.</summary>
    /// <param name="table">Target table.</param>
    /// <param name="key">Conflict target columns.</param>
    /// <param name="fields">Columns inserted or updated.</param>
    /// <param name="defaults">Column → constant used when the request lacks it.</param>
    /// <param name="bind">Column → <c>$N.col</c> reference to an earlier op's row.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioOpSetBuilder Upsert(string table, IEnumerable<string> key, IEnumerable<string>? fields = null, IDictionary<string, object?>? defaults = null, IDictionary<string, string>? bind = null)
        => Add("upsert", table, key, fields, defaults, bind);

    /// <summary>Adds an undo op: steps the row of a versioned table back one version (the request data is its key).</summary>
    /// <param name="table">A versioned table.</param>
    /// <param name="key">Its primary-key column.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioOpSetBuilder Undo(string table, IEnumerable<string> key) => Add("undo", table, key, null, null, null);

    /// <summary>Adds a redo op: steps the row of a versioned table forward one undone version.</summary>
    /// <param name="table">A versioned table.</param>
    /// <param name="key">Its primary-key column.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioOpSetBuilder Redo(string table, IEnumerable<string> key) => Add("redo", table, key, null, null, null);

    private MkioOpSetBuilder Add(string opType, string table, IEnumerable<string>? key, IEnumerable<string>? fields, IDictionary<string, object?>? defaults, IDictionary<string, string>? bind)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        var op = new MkioOpOptions { Table = table, OpType = opType };
        foreach (var k in key ?? [])
        {
            op.Key.Add(k);
        }

        foreach (var f in fields ?? [])
        {
            op.Fields.Add(f);
        }

        foreach (var (k, v) in defaults ?? new Dictionary<string, object?>())
        {
            op.Defaults[k] = v;
        }

        foreach (var (k, v) in bind ?? new Dictionary<string, string>())
        {
            op.Bind[k] = v;
        }

        _set.Steps.Add(op);
        return this;
    }
}

/// <summary>Fluent builder of a subpub, stream or query service.</summary>
public sealed class MkioListenerBuilder
{
    private readonly MkioServiceOptions _service;

    internal MkioListenerBuilder(MkioServiceOptions service) => _service = service;

    /// <summary>
    /// Who may use the service (<c>access</c>): <c>"open"</c>, <c>"auth"</c> (any authenticated user) or an
    /// authorization policy or role name. Setting it turns access control on.
    /// </summary>
    /// <param name="access">The access value.</param>
    /// <returns>This builder.</returns>
    public MkioListenerBuilder Access(string access)
    {
        _service.Access = access;
        return this;
    }

    /// <summary>Requires the authorization policy (or role) <paramref name="policy"/>; same as <see cref="Access"/>.</summary>
    /// <param name="policy">A policy registered with <c>AddAuthorization</c>, or a role name.</param>
    /// <returns>This builder.</returns>
    public MkioListenerBuilder RequireAuthorization(string policy) => Access(policy);

    /// <summary>Who may monitor the service (<c>monitor_access</c>); same values as <see cref="Access"/>.</summary>
    /// <param name="access">The access value.</param>
    /// <returns>This builder.</returns>
    public MkioListenerBuilder MonitorAccess(string access)
    {
        _service.MonitorAccess = access;
        return this;
    }

    /// <summary>Sets the primary table (<c>primary_table</c>).</summary>
    /// <param name="table">The table whose writes the service follows.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder From(string table)
    {
        _service.PrimaryTable = table;
        return this;
    }

    /// <summary>Sets the subpub cache key column (<c>key</c>).</summary>
    /// <param name="column">One cached row per distinct value of this column.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder Key(string column)
    {
        _service.Key = column;
        return this;
    }

    /// <summary>Sets the server-side admission filter (<c>where</c>, subpub only).</summary>
    /// <param name="expression">An mkio expression.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder Where(string expression)
    {
        _service.Where = expression;
        return this;
    }

    /// <summary>Adds an output field (<c>publish</c>).</summary>
    /// <param name="field">Output field name.</param>
    /// <param name="expression">The expression computing it.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder Publish(string field, string expression)
    {
        (_service.Publish ??= new(StringComparer.Ordinal))[field] = expression;
        return this;
    }

    /// <summary>Enables client filters (<c>filterable</c>).</summary>
    /// <param name="fields">Fields clients may filter on.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder Filterable(params string[] fields)
    {
        _service.Filterable = [.. fields];
        return this;
    }

    /// <summary>Sets the watched tables (<c>watch_tables</c>).</summary>
    /// <param name="tables">Tables whose changes the service consumes.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder Watch(params string[] tables)
    {
        _service.WatchTables = [.. tables];
        return this;
    }

    /// <summary>Sets custom SQL (<c>sql</c>).</summary>
    /// <param name="sql">The snapshot / cache query.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder Sql(string sql)
    {
        _service.Sql = sql;
        return this;
    }

    /// <summary>Sets the change-log length (<c>change_log_size</c>).</summary>
    /// <param name="size">Entries kept for delta resume.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder ChangeLogSize(int size)
    {
        _service.ChangeLogSize = size;
        return this;
    }

    /// <summary>Sets the update-buffer cap of a paged query snapshot (<c>max_buffer</c>, query only; default 1000).</summary>
    /// <param name="size">Rows still to send plus updates buffered meanwhile that a paging may hold.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder MaxBuffer(int size)
    {
        _service.MaxBuffer = size;
        return this;
    }

    /// <summary>Adds a <c>defaults</c> expression (subpub topic subscriptions): fills <paramref name="column"/> in the row of a topic that does not exist.</summary>
    /// <param name="column">An output column (a <c>publish</c> key, else a column of the primary table).</param>
    /// <param name="expression">An mkio expression over the null-filled row; <c>_mkio_topic</c> holds the topic.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder TopicDefault(string column, string expression)
    {
        (_service.TopicDefaults ??= new(StringComparer.Ordinal))[column] = expression;
        return this;
    }

    /// <summary>Sets the ring-buffer size of a stream (<c>buffer_size</c>).</summary>
    /// <param name="size">Rows kept.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder BufferSize(int size)
    {
        _service.BufferSize = size;
        return this;
    }

    /// <summary>Sets the description shown by discovery.</summary>
    /// <param name="description">Free text.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public MkioListenerBuilder Description(string description)
    {
        _service.Description = description;
        return this;
    }
}
