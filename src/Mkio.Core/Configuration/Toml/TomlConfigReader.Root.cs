using Tomlyn.Model;

namespace Mkio;

/// <summary>Top-level keys, <c>[tables]</c> and <c>[static]</c> (CONFIG.md §2, §3, §5).</summary>
internal sealed partial class TomlConfigReader
{
    public void ReadRoot(TomlTable root)
    {
        foreach (var e in Entries(root, prefix: null))
        {
            switch (e.Key)
            {
                case "host":
                    if (TryString(e, out var host))
                    {
                        _options.Host = host;
                    }

                    break;
                case "port":
                    if (TryInt(e, out var port))
                    {
                        _options.Port = port;
                    }

                    break;
                case "db_path":
                    if (TryString(e, out var dbPath))
                    {
                        _options.DbPath = dbPath;
                    }

                    break;
                case "postgres":
                    if (TryString(e, out var postgres))
                    {
                        _options.Postgres = postgres;
                    }

                    break;
                case "batch_max_size":
                    if (TryInt(e, out var batchMaxSize))
                    {
                        _options.BatchMaxSize = batchMaxSize;
                    }

                    break;
                case "batch_max_wait_ms":
                    if (TryNumber(e, out var batchMaxWaitMs))
                    {
                        _options.BatchMaxWaitMs = batchMaxWaitMs;
                    }

                    break;
                case "change_log_size":
                    if (TryInt(e, out var changeLogSize))
                    {
                        _options.ChangeLogSize = changeLogSize;
                    }

                    break;
                case "wal_checkpoint_interval_s":
                    if (TryNumber(e, out var walInterval))
                    {
                        _options.WalCheckpointIntervalS = walInterval;
                    }

                    break;
                case "auto_migrate":
                    ReadAutoMigrate(e);
                    break;
                case "backup_on_startup":
                    if (TryBool(e, out var backup))
                    {
                        _options.BackupOnStartup = backup;
                    }

                    break;
                case "backup_dir":
                    if (TryString(e, out var backupDir))
                    {
                        _options.BackupDir = backupDir;
                    }

                    break;
                case "shutdown_timeout":
                    if (TryNumber(e, out var shutdownTimeout))
                    {
                        _options.ShutdownTimeout = shutdownTimeout;
                    }

                    break;
                case "ws_heartbeat_s":
                    if (TryNumber(e, out var heartbeat))
                    {
                        _options.WsHeartbeatS = heartbeat;
                    }

                    break;
                case "allowed_origins":
                    if (TryStringList(e, out var origins))
                    {
                        _options.AllowedOrigins.Clear();
                        foreach (var origin in origins)
                        {
                            _options.AllowedOrigins.Add(origin);
                        }
                    }

                    break;
                case "name" or "version" or "config" or "later_protocol" or "ws_send_buffer_mb":
                    ReadLaterRootKey(e);
                    break;
                case "access" or "monitor_access":
                    ReadRootAccess(e);
                    break;
                case "tables":
                    ReadTables(e);
                    break;
                case "services":
                    ReadServices(e);
                    break;
                case "static":
                    ReadStatic(e);
                    break;
                default:
                    if (!TomlConfigKeys.RootSilent.Contains(e.Key))
                    {
                        Unknown(e, TomlConfigKeys.Root, TomlConfigKeys.RootLater);
                    }

                    break;
            }
        }
    }

    /// <summary><c>false</c> → Off, <c>true</c> → Destructive (0.1.0); 1.x strings safe / risky / destructive.</summary>
    private void ReadAutoMigrate(Entry e)
    {
        MkioAutoMigrate? mode = e.Value switch
        {
            false => MkioAutoMigrate.Off,
            true => MkioAutoMigrate.Destructive,
            "safe" => MkioAutoMigrate.Safe,
            "risky" => MkioAutoMigrate.Risky,
            "destructive" => MkioAutoMigrate.Destructive,
            _ => null,
        };
        if (mode is { } m)
        {
            _options.AutoMigrate = m;
        }
        else
        {
            TypeError(e, "true, false, 'safe', 'risky' or 'destructive'");
        }
    }

    private void ReadTables(Entry e)
    {
        if (!TryTable(e, out var tables))
        {
            return;
        }

        foreach (var t in Entries(tables, e.Path))
        {
            if (!TryTable(t, out var body))
            {
                continue;
            }

            var table = _options.Tables.FirstOrDefault(x => string.Equals(x.Name, t.Key, StringComparison.Ordinal));
            if (table is null)
            {
                table = new MkioTableOptions(t.Key);
                _options.Tables.Add(table);
            }

            foreach (var k in Entries(body, t.Path))
            {
                switch (k.Key)
                {
                    case "columns":
                        if (TryStringMap(k, out var columns))
                        {
                            table.Columns.Clear();
                            foreach (var (name, definition) in columns)
                            {
                                table.Columns[name] = definition;
                            }
                        }

                        break;
                    case "append_only":
                        if (TryBool(k, out var appendOnly))
                        {
                            table.AppendOnly = appendOnly;
                        }

                        break;
                    case "seed":
                        if (TryString(k, out var seed))
                        {
                            table.Seed = seed;
                        }

                        break;
                    case "versioned":
                        if (k.Value is bool versioned)
                        {
                            table.Versioned = versioned;
                        }
                        else
                        {
                            Error(k, "must be true or false");
                        }

                        break;
                    case "unversioned":
                        if (TryStringList(k, out var unversioned))
                        {
                            table.Unversioned.Clear();
                            foreach (var c in unversioned)
                            {
                                table.Unversioned.Add(c);
                            }
                        }

                        break;
                    case "primary_key":
                        if (TryStringList(k, out var primaryKey))
                        {
                            table.PrimaryKey = [.. primaryKey];
                        }

                        break;
                    case "archive":
                        ReadArchive(k, table);
                        break;
                    default:
                        Unknown(k, TomlConfigKeys.Table, TomlConfigKeys.TableLater);
                        break;
                }
            }
        }
    }

    /// <summary>A table's <c>archive = {cutoff, format, group, with}</c>.</summary>
    private void ReadArchive(Entry e, MkioTableOptions table)
    {
        if (!TryTable(e, out var body))
        {
            return;
        }

        var archive = new MkioArchiveOptions();
        foreach (var k in Entries(body, e.Path))
        {
            switch (k.Key)
            {
                case "cutoff" when TryString(k, out var cutoff):
                    archive.Cutoff = cutoff;
                    break;
                case "format" when TryString(k, out var format):
                    archive.Format = format;
                    break;
                case "group" when TryString(k, out var group):
                    archive.Group = group;
                    break;
                case "with" when TryStringList(k, out var with):
                    foreach (var w in with)
                    {
                        archive.With.Add(w);
                    }

                    break;
                case "cutoff" or "format" or "group" or "with":
                    break;
                default:
                    Unknown(k, TomlConfigKeys.Archive, TomlConfigKeys.TableLater);
                    break;
            }
        }

        table.Archive = archive;
    }

    private void ReadStatic(Entry e)
    {
        if (!TryTable(e, out var routes))
        {
            return;
        }

        foreach (var r in Entries(routes, e.Path))
        {
            if (!TryString(r, out var directory))
            {
                continue;
            }

            var route = new MkioStaticRoute(r.Key, directory);
            var index = -1;
            for (var i = 0; i < _options.Static.Count; i++)
            {
                if (string.Equals(_options.Static[i].Prefix, r.Key, StringComparison.Ordinal))
                {
                    index = i;
                    break;
                }
            }

            if (index >= 0)
            {
                _options.Static[index] = route;
            }
            else
            {
                _options.Static.Add(route);
            }
        }
    }
}
