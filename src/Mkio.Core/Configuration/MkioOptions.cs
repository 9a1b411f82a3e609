namespace Mkio;

/// <summary>
/// Everything an mkio application declares: server settings, tables, services and static routes.
/// Filled from TOML (<c>AddMkio("mkio.toml")</c>) or in code through the fluent methods, then
/// compiled and validated as one model when the host starts. Keys mirror <c>mkio.toml</c>:
/// a PascalCase property here is the snake_case key there (<see cref="DbPath"/> ↔ <c>db_path</c>).
/// </summary>
public sealed partial class MkioOptions
{
    /// <summary>
    /// Listen address for <c>mkio serve</c> only (<c>host</c>). An application that embeds mkio ignores it:
    /// Kestrel's own URLs (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>UseUrls</c>) decide.
    /// </summary>
    public string Host { get; set; } = "0.0.0.0";

    /// <summary>Listen port for <c>mkio serve</c> only (<c>port</c>); 0 picks a free port. Ignored when embedded, like <see cref="Host"/>.</summary>
    public int Port { get; set; } = 8080;

    /// <summary>SQLite file (<c>db_path</c>), relative to the working directory (embedded: the host's content root), or <c>:memory:</c>.</summary>
    public string DbPath
    {
        get => _dbPath;
        set
        {
            _dbPath = value;
            DbPathSet = true;
        }
    }

    /// <summary>
    /// Npgsql connection string of a PostgreSQL database (<c>postgres</c>; <see cref="UsePostgres"/>). When set,
    /// mkio stores its tables and journal there instead of in a SQLite file, and several processes with the same
    /// configuration serve one cluster. It replaces <see cref="DbPath"/>: setting both is a start-up error.
    /// </summary>
    public string? Postgres { get; set; }

    /// <summary>Whether <see cref="DbPath"/> was assigned (by TOML, configuration or code), so a conflict with <see cref="Postgres"/> can be reported.</summary>
    internal bool DbPathSet { get; private set; }

    private string _dbPath = "mkio.db";

    /// <summary>Forgets an assigned <see cref="DbPath"/> (back to the default, not set): a test host moving a configuration onto PostgreSQL.</summary>
    internal void ResetDbPath()
    {
        _dbPath = "mkio.db";
        DbPathSet = false;
    }

    /// <summary>Maximum number of transactions committed together (<c>batch_max_size</c>).</summary>
    public int BatchMaxSize { get; set; } = 500;

    /// <summary>
    /// Upper bound, in milliseconds from its first request, on how long a batch keeps taking queued requests
    /// (<c>batch_max_wait_ms</c>). A batch commits as soon as no further request is waiting, so this bound is only
    /// reached by a steady stream of requests; it never delays a lone request.
    /// </summary>
    public double BatchMaxWaitMs { get; set; } = 2.0;

    /// <summary><see cref="BatchMaxWaitMs"/> as a <see cref="TimeSpan"/> (the TOML key stays <c>batch_max_wait_ms</c>).</summary>
    public TimeSpan BatchMaxWait
    {
        get => TimeSpan.FromMilliseconds(BatchMaxWaitMs);
        set => BatchMaxWaitMs = value.TotalMilliseconds;
    }

    /// <summary>Default change-log length of subpub and query services (<c>change_log_size</c>).</summary>
    public int ChangeLogSize { get; set; } = 10000;

    /// <summary>Seconds between WAL checkpoints; 0 or less disables them (<c>wal_checkpoint_interval_s</c>).</summary>
    public double WalCheckpointIntervalS { get; set; } = 300;

    /// <summary><see cref="WalCheckpointIntervalS"/> as a <see cref="TimeSpan"/>; <see cref="TimeSpan.Zero"/> disables checkpoints.</summary>
    public TimeSpan WalCheckpointInterval
    {
        get => TimeSpan.FromSeconds(WalCheckpointIntervalS);
        set => WalCheckpointIntervalS = value.TotalSeconds;
    }

    /// <summary>Which schema changes may be applied without confirmation (<c>auto_migrate</c>).</summary>
    public MkioAutoMigrate AutoMigrate { get; set; } = MkioAutoMigrate.Off;

    /// <summary>Copy the database file into <see cref="BackupDir"/> before migrating (<c>backup_on_startup</c>).</summary>
    public bool BackupOnStartup { get; set; }

    /// <summary>Where start-up backups go (<c>backup_dir</c>).</summary>
    public string BackupDir { get; set; } = "./backups";

    /// <summary>Seconds allowed for draining queued writes at shutdown (<c>shutdown_timeout</c>).</summary>
    public double ShutdownTimeout { get; set; } = 5;

    /// <summary><see cref="ShutdownTimeout"/> (seconds, <c>shutdown_timeout</c>) as a <see cref="TimeSpan"/>.</summary>
    public TimeSpan ShutdownDrainTimeout
    {
        get => TimeSpan.FromSeconds(ShutdownTimeout);
        set => ShutdownTimeout = value.TotalSeconds;
    }

    /// <summary>The tables, in declaration order (<c>[tables]</c>).</summary>
    public IList<MkioTableOptions> Tables { get; } = new List<MkioTableOptions>();

    /// <summary>The services, in declaration order (<c>[services]</c>).</summary>
    public IList<MkioServiceOptions> Services { get; } = new List<MkioServiceOptions>();

    /// <summary>Static routes: URL prefix → directory (<c>[static]</c>).</summary>
    public IList<MkioStaticRoute> Static { get; } = new List<MkioStaticRoute>();

    /// <summary>
    /// Largest inbound WebSocket message in bytes; a message of this size or more closes its
    /// connection with 1009. Host option (not a TOML key); default 4 MiB.
    /// </summary>
    public int MaxMessageBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Runs a start-up warm-up before the host accepts clients: a subscribe, 64 writes, two resumes by ref (one
    /// after a restart) and a full snapshot through a private engine, a private temporary SQLite file and a private Kestrel server on a
    /// loopback port, then one full garbage collection, so the first clients of a freshly started process do not pay
    /// for compiling the request paths (a first resume after a restart answers in a few milliseconds instead of
    /// tens). It touches nothing of the configured database, the <c>Mkio</c> meter and traces, or the logs (its
    /// loopback connections do show on Kestrel's own meter), and adds roughly 0.3–0.6 s to start-up. Host option
    /// (<c>Mkio:WarmUp</c>, not a TOML key); default true.
    /// </summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>
    /// SQLite page cache of the write connection of a file database, in KiB; read connections keep 64,000. After a
    /// B-tree page split renumbers pages, SQLite walks the writer's whole cache at the next COMMIT, so a big writer
    /// cache slows every such commit of an insert-heavy server; a writer that updates rows at random over a table
    /// much larger than this reads more pages from the operating system's file cache instead. Raise it (64,000 is
    /// the original mkio's) for random updates over big tables. Host option (<c>Mkio:WriterCacheSizeKib</c>, not a
    /// TOML key); at least 256; default 8,000.
    /// </summary>
    public int WriterCacheSizeKib { get; set; } = 8_000;

    /// <summary>
    /// How much of a file database each SQLite connection reads through a memory map (SQLite's <c>mmap_size</c>), in
    /// MiB; 0 reads with <c>pread</c> only (SQLite's own default). Mapped pages come straight from the operating system's
    /// file cache, so the first large snapshot on a fresh read connection is as fast as later ones. The cost is
    /// address space, and an I/O error on a mapped page stops the process instead of failing one statement (keep the
    /// database on a local disk). Host option (<c>Mkio:MmapSizeMib</c>, not a TOML key); at least 0; default 1,024.
    /// </summary>
    public int MmapSizeMib { get; set; } = 1024;

    /// <summary>
    /// Bound of each connection's outbound queue in bytes. A connection whose queue would exceed it
    /// is closed with 1013 and resumes by ref after reconnecting. Host option; default 16 MiB.
    /// </summary>
    public long MaxSendQueueBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// Cross-origin WebSocket <c>Origin</c> values allowed besides same-origin requests and requests
    /// without an <c>Origin</c> header, which are always accepted (<c>allowed_origins</c>); e.g.
    /// <c>https://app.example.com</c>. <c>"*"</c> allows every origin. Other origins get 403.
    /// </summary>
    public IList<string> AllowedOrigins { get; } = new List<string>();

    /// <summary>
    /// Maximum number of simultaneous WebSocket connections; 0 means unlimited. Host option; default
    /// 10,000. An upgrade beyond it is refused with 503 before the WebSocket opens.
    /// </summary>
    public int MaxConnections { get; set; } = DefaultMaxConnections;

    /// <summary>The default of <see cref="MaxConnections"/>.</summary>
    public const int DefaultMaxConnections = 10_000;

    /// <summary>
    /// Most subscriptions one connection may hold on one service (later clients open several with distinct
    /// <c>subid</c>s; a 0.1.0 subscribe replaces the previous one). Host option; default 100. A subscribe beyond it
    /// is answered with a <c>nack</c>, and nothing is registered.
    /// </summary>
    public int MaxSubscriptionsPerService { get; set; } = DefaultMaxSubscriptionsPerService;

    /// <summary>The default of <see cref="MaxSubscriptionsPerService"/>.</summary>
    public const int DefaultMaxSubscriptionsPerService = 100;

    /// <summary>
    /// Seconds between WebSocket pings (<c>ws_heartbeat_s</c>); a peer that answers nothing (no pong,
    /// no frame) for another interval is disconnected. 0 disables pings. Default 30.
    /// </summary>
    public double WsHeartbeatS { get; set; } = 30;

    /// <summary><see cref="WsHeartbeatS"/> as a <see cref="TimeSpan"/>; <see cref="TimeSpan.Zero"/> disables pings.</summary>
    public TimeSpan WsHeartbeat
    {
        get => TimeSpan.FromSeconds(WsHeartbeatS);
        set => WsHeartbeatS = value.TotalSeconds;
    }

    /// <summary>Cost limits of client filters (<c>Mkio:FilterLimits:*</c>). Host options.</summary>
    public MkioFilterLimits FilterLimits { get; } = new();

    /// <summary>Where the configuration came from (a file path), used in error messages.</summary>
    public string? SourceName { get; set; }

    internal ConfigSourceMap Locations { get; } = new();

    internal List<ConfigDiagnostic> LoadDiagnostics { get; } = [];
}

/// <summary>The <c>auto_migrate</c> setting: which schema changes start-up may apply unasked.</summary>
public enum MkioAutoMigrate
{
    /// <summary><c>false</c>: only safe changes; anything else needs confirmation.</summary>
    Off,

    /// <summary><c>"safe"</c>: only safe changes.</summary>
    Safe,

    /// <summary><c>"risky"</c>: safe and potentially destructive changes.</summary>
    Risky,

    /// <summary><c>true</c> or <c>"destructive"</c>: every change.</summary>
    Destructive,
}

/// <summary>One table of <c>[tables]</c>.</summary>
public sealed class MkioTableOptions
{
    /// <summary>Creates a table declaration.</summary>
    /// <param name="name">The table name (a plain SQL identifier).</param>
    public MkioTableOptions(string name) => Name = name;

    /// <summary>The table name.</summary>
    public string Name { get; }

    /// <summary>Column name → SQLite column definition, in table order.</summary>
    public OrderedDictionary<string, string> Columns { get; } = new(StringComparer.Ordinal);

    /// <summary>Informational only (accepted for compatibility).</summary>
    public bool AppendOnly { get; set; }

    /// <summary>A CSV, JSON or JSONL file of initial rows, loaded only when the table is created (<c>seed</c>).</summary>
    public string? Seed { get; set; }

    /// <summary>
    /// A table-level primary key (<c>primary_key = [cols]</c>), possibly composite: the table's DDL gets
    /// <c>PRIMARY KEY (a, b)</c>. Null: the key, if any, is a column declared <c>PRIMARY KEY</c>.
    /// </summary>
    public IList<string>? PrimaryKey { get; set; }

    /// <summary>Keeps every version of each row in <c>&lt;table&gt;__history</c> and enables the <c>undo</c>/<c>redo</c> op types (<c>versioned</c>).</summary>
    public bool Versioned { get; set; }

    /// <summary>Columns of a versioned table that are neither recorded in its history nor restored by undo/redo (<c>unversioned</c>).</summary>
    public IList<string> Unversioned { get; } = [];

    /// <summary>How <c>mkio archive</c> moves this table's rows to CSV (<c>archive = {…}</c>); null: the table is not archived by row.</summary>
    public MkioArchiveOptions? Archive { get; set; }
}

/// <summary>A table's row archive (<c>archive = {cutoff, format, group, with}</c>), used by <c>mkio archive --tables/--group/--all</c>.</summary>
public sealed class MkioArchiveOptions
{
    /// <summary>The column compared with the cutoff (<c>cutoff</c>); null archives the whole table.</summary>
    public string? Cutoff { get; set; }

    /// <summary>The strftime format the cutoff time is rendered in for the comparison (<c>format</c>).</summary>
    public string Format { get; set; } = "%Y-%m-%d %H:%M:%S";

    /// <summary>The group <c>--group</c> selects the table by (<c>group</c>; not <c>all</c>).</summary>
    public string Group { get; set; } = "data";

    /// <summary>Companion tables sharing the table's key, archived and deleted with its rows (<c>with</c>).</summary>
    public IList<string> With { get; } = [];
}

/// <summary>One entry of <c>[static]</c>: a URL prefix served from a directory.</summary>
/// <param name="Prefix">URL prefix, e.g. <c>/</c> or <c>/assets</c>.</param>
/// <param name="Directory">Directory, relative to the working directory (embedded: the host's content root).</param>
public sealed record MkioStaticRoute(string Prefix, string Directory);

/// <summary>One service of <c>[services]</c>. Which keys apply depends on <see cref="Type"/>.</summary>
public sealed class MkioServiceOptions
{
    /// <summary>Creates a service declaration.</summary>
    /// <param name="name">The service name clients address.</param>
    public MkioServiceOptions(string name) => Name = name;

    /// <summary>The service name.</summary>
    public string Name { get; }

    /// <summary>
    /// Who may use the service (<c>access</c>): <c>"open"</c> (anyone), <c>"auth"</c> (any authenticated user), or
    /// an authorization policy or role name. Null: locked when access control is on (see <see cref="MkioOptions.AccessControl"/>).
    /// </summary>
    public string? Access { get; set; }

    /// <summary>Who may monitor the service (<c>monitor_access</c>); same values as <see cref="Access"/>. Null: monitoring disabled when access control is on.</summary>
    public string? MonitorAccess { get; set; }

    /// <summary><c>transaction</c>, <c>subpub</c>, <c>stream</c>, <c>query</c> or a custom type (<c>type</c> / <c>protocol</c>).</summary>
    public string? Type { get; set; }

    /// <summary>Free text for discovery (<c>description</c>).</summary>
    public string? Description { get; set; }

    /// <summary>Output formatter: field → expression (<c>publish</c>).</summary>
    public OrderedDictionary<string, string>? Publish { get; set; }

    /// <summary>Server-side admission filter of subpub services (<c>where</c>).</summary>
    public string? Where { get; set; }

    /// <summary>Fields clients may filter on; enables client filters (<c>filterable</c>).</summary>
    public IList<string>? Filterable { get; set; }

    /// <summary>Table whose writes the service follows (<c>primary_table</c>).</summary>
    public string? PrimaryTable { get; set; }

    /// <summary>SubPub cache key column (<c>key</c> / <c>topic</c>).</summary>
    public string? Key { get; set; }

    /// <summary>Tables whose change events the service consumes (<c>watch_tables</c>).</summary>
    public IList<string>? WatchTables { get; set; }

    /// <summary>Custom SQL for snapshots / the cache (<c>sql</c>).</summary>
    public string? Sql { get; set; }

    /// <summary>Change-log length (subpub, query) or result-cache size (transaction) (<c>change_log_size</c>).</summary>
    public int? ChangeLogSize { get; set; }

    /// <summary>Ring-buffer capacity of a stream (<c>buffer_size</c>).</summary>
    public int? BufferSize { get; set; }

    /// <summary>Transaction op sets (<c>ops</c>): one unnamed set, or named sets when <see cref="OpsNamed"/>.</summary>
    public IList<MkioOpSetOptions> Ops { get; } = new List<MkioOpSetOptions>();

    /// <summary>True when <c>ops</c> is a table of named op sets rather than one list.</summary>
    public bool OpsNamed { get; set; }

    /// <summary>Op-set name → description (<c>descriptions</c>).</summary>
    public OrderedDictionary<string, string>? Descriptions { get; set; }

    /// <summary>Shorthand single-op <c>table</c>.</summary>
    public string? Table { get; set; }

    /// <summary>Shorthand single-op <c>op_type</c>.</summary>
    public string? OpType { get; set; }

    /// <summary>Shorthand single-op <c>fields</c>.</summary>
    public IList<string>? Fields { get; set; }

    /// <summary>Shorthand single-op <c>key</c> (a list of columns).</summary>
    public IList<string>? KeyColumns { get; set; }

    /// <summary>ReqRep: SQL parameter → expression over the request data (<c>params</c>).</summary>
    public OrderedDictionary<string, string>? Params { get; set; }

    /// <summary>ReqRep: one expression whose result is the reply <c>value</c> (<c>reply</c> as a string).</summary>
    public string? Reply { get; set; }

    /// <summary>ReqRep: field → expression building each reply row (<c>reply</c> as a table).</summary>
    public OrderedDictionary<string, string>? ReplyFields { get; set; }

    /// <summary>Query: the update-buffer cap of a paged snapshot (<c>max_buffer</c>); null for the default, 1000.</summary>
    public int? MaxBuffer { get; set; }

    /// <summary>SubPub topic subscriptions: column → expression filling the row of a topic that does not exist (<c>defaults</c>).</summary>
    public OrderedDictionary<string, string>? TopicDefaults { get; set; }

    /// <summary>Keys this model does not know, kept for custom service types.</summary>
    public OrderedDictionary<string, object?> Extra { get; } = new(StringComparer.Ordinal);
}

/// <summary>An op set: the ordered ops one transaction request runs.</summary>
public sealed class MkioOpSetOptions
{
    /// <summary>Creates an op set.</summary>
    /// <param name="name">The name clients select with <c>op</c>, or null for the unnamed list form.</param>
    public MkioOpSetOptions(string? name) => Name = name;

    /// <summary>The op-set name, or null for the unnamed (list) form.</summary>
    public string? Name { get; }

    /// <summary>Who may run this op set (<c>access</c> on its op); overrides the service's <see cref="MkioServiceOptions.Access"/>.</summary>
    public string? Access { get; set; }

    /// <summary>The ops, executed in order.</summary>
    public IList<MkioOpOptions> Steps { get; } = new List<MkioOpOptions>();
}

/// <summary>One op spec: a single SQL statement of a transaction.</summary>
public sealed class MkioOpOptions
{
    /// <summary>Target table (<c>table</c>).</summary>
    public string? Table { get; set; }

    /// <summary><c>insert</c>, <c>update</c>, <c>delete</c> or <c>upsert</c> (<c>op_type</c>).</summary>
    public string? OpType { get; set; }

    /// <summary>Columns whose values come from the request data (<c>fields</c>).</summary>
    public IList<string> Fields { get; } = new List<string>();

    /// <summary>Columns identifying rows (<c>key</c>).</summary>
    public IList<string> Key { get; } = new List<string>();

    /// <summary>Column → constant used when the request lacks it (<c>defaults</c>).</summary>
    public OrderedDictionary<string, object?> Defaults { get; } = new(StringComparer.Ordinal);

    /// <summary>Column → <c>$N.col</c> reference to an earlier op's row (<c>bind</c>).</summary>
    public OrderedDictionary<string, string> Bind { get; } = new(StringComparer.Ordinal);
}
