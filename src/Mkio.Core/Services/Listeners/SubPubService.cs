using Mkio.Changes;
using Mkio.Data;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Storage;

namespace Mkio.Services.Listeners;

/// <summary>
/// SubPub (SERVICES.md §8): an insertion-ordered, keyed in-memory cache of the primary table (or of
/// custom SQL) with <c>where</c> admission (F1, F13), a change log for delta resume, and live push.
/// </summary>
internal sealed partial class SubPubService(MkioEngine engine, ListenerServiceModel model) : ListenerService(engine, model)
{
    private readonly OrderedDictionary<CacheKey, Row> _cache = new();
    private readonly ChangeLog _log = new(model.ChangeLogSize);

    public override int? CachedRows
    {
        get
        {
            lock (Gate)
            {
                return _cache.Count;
            }
        }
    }

    protected override ChangeLog ResumeLog => _log;

    protected override void Load()
    {
        LoadedSequence = Engine.Position;
        Rebuild();
        LoadTopics();
        if (!SeedFromJournal())
        {
            SeedLog(_log, PassesWhere);
        }
    }

    /// <summary>
    /// Fix F18 for subpub: replays the retained journal through the live rules of <see cref="Apply"/>
    /// against a shadow of the cache, so the seeded log holds what the live log held: inserts and
    /// updates resolved against the cache, <c>where</c> evictions as deletes (F13: only of the cached
    /// row itself), non-matching changes of other rows dropped. The shadow starts as the cache stood
    /// when the journal began (known when the journal was never pruned: the rows not written since,
    /// plus rows first journaled by an insert). A key whose cached state is unknown gets the writer's
    /// op; a non-matching change of it is logged as a delete when the key is the primary key (a
    /// no-op for a client without that row) and dropped otherwise. False for a database without a
    /// journal.
    /// </summary>
    private bool SeedFromJournal()
    {
        var (entries, complete) = (Engine.Reads.ReadJournal(Model.WatchTables, int.MaxValue), Engine.Reads.JournalIsComplete());
        if (entries.Count == 0)
        {
            return false;
        }

        var primary = Model.PrimaryTable.Name;
        var pk = Model.PrimaryTable.PrimaryKey;
        var keyIsPrimaryKey = pk.Length == 1 && pk[0].Name == Model.Key;
        var shadow = new Dictionary<CacheKey, Row?>(); // the cached row, or null when not cached
        HashSet<CacheKey>? unknown = null; // when set, keys neither here nor in the shadow are not cached
        if (complete && pk.Length > 0 && !Model.SqlHasJoin && Model.WatchTables.All(t => t == primary))
        {
            unknown = [];
            var journaled = new HashSet<string>(StringComparer.Ordinal);
            foreach (var e in entries)
            {
                if (journaled.Add(RowIdentity(e.Row)) && e.Op != "insert")
                {
                    unknown.Add(KeyOf(e.Row)); // written before the journal began: state unknown
                }
            }

            foreach (var row in Engine.Reads.Query($"SELECT * FROM {MkioSchema.Id(primary)}"))
            {
                if (!journaled.Contains(RowIdentity(row)) && PassesWhere(row))
                {
                    shadow[KeyOf(row)] = row; // untouched since before the journal: as it was then
                }
            }
        }

        foreach (var e in entries)
        {
            var op = e.Op;
            if (e.Table.Name != primary || Model.SqlHasJoin)
            {
                // Cache rebuilds and re-queries: the event op is logged unchanged, as live.
                if (e.Table.Name != primary)
                {
                    shadow.Clear();
                    unknown = null;
                }

                _log.Append(new LogEntry(e.Sequence, e.Ref, op, e.Row));
                continue;
            }

            var k = KeyOf(e.Row);
            Row? cached = null;
            var known = unknown?.Contains(k) != true && (shadow.TryGetValue(k, out cached) || unknown is not null);
            if (op == "delete")
            {
                Know(k, null);
            }
            else if (PassesWhere(e.Row))
            {
                op = known ? (cached is null ? "insert" : "update") : (op == "insert" ? "insert" : "update");
                Know(k, e.Row);
            }
            else if (known ? cached is not null && SameTableRow(cached, e.Row) : keyIsPrimaryKey)
            {
                Know(k, null);
                op = "delete";
            }
            else
            {
                continue;
            }

            _log.Append(new LogEntry(e.Sequence, e.Ref, op, e.Row));
        }

        return true;

        void Know(CacheKey k, Row? row)
        {
            shadow[k] = row;
            unknown?.Remove(k);
        }

        string RowIdentity(Row row) => string.Join('\u0001', pk.Select(c => row.TryGetValue(c.Name, out var v) ? Convert.ToString(new CacheKey(v).Value, System.Globalization.CultureInfo.InvariantCulture) : string.Empty));
    }

    private CacheKey KeyOf(Row row) => new(row.TryGetValue(Model.Key!, out var kv) ? kv : null);

    private void Rebuild()
    {
        _cache.Clear();
        var rows = Engine.Reads.Query(Model.Sql);
        foreach (var row in rows)
        {
            if (!PassesWhere(row))
            {
                continue;
            }

            if (!row.TryGetValue(Model.Key!, out var k))
            {
                throw new MkioConfigurationException($"services.{Name}.sql: the query does not return the key column '{Model.Key}'.");
            }

            _cache[new CacheKey(k)] = row;
        }
    }

    protected override string? Apply(ChangeEvent change)
    {
        var passes = PassesWhere(change.Row);
        ApplyTopics(change, passes);
        var op = change.Op;
        if (change.Table.Name == Model.PrimaryTable.Name)
        {
            var k = new CacheKey(change.Row.TryGetValue(Model.Key!, out var kv) ? kv : null);
            if (!Model.SqlHasJoin)
            {
                if (op == "delete")
                {
                    _cache.Remove(k);
                }
                else if (passes)
                {
                    op = _cache.ContainsKey(k) ? "update" : "insert";
                    _cache[k] = change.Row;
                }
                else if (_cache.TryGetValue(k, out var cached) && SameTableRow(cached, change.Row))
                {
                    _cache.Remove(k);
                    op = "delete";
                }
                else
                {
                    return null; // F13: a different row that does not match leaves the cache alone
                }
            }
            else if (op == "delete")
            {
                _cache.Remove(k);
            }
            else
            {
                var rows = Engine.Reads.Query($"SELECT * FROM ({Model.Sql}) AS _sub WHERE {MkioSchema.Id(Model.Key!)} = $p1", k.Value);
                if (rows.Count > 0 && PassesWhere(rows[0]))
                {
                    _cache[k] = rows[0];
                }
                else
                {
                    _cache.Remove(k);
                }
            }
        }
        else
        {
            Rebuild();
        }

        _log.Append(new LogEntry(change.Sequence, change.Ref, op, change.Row, change.Cause));
        return op;
    }

    private bool SameTableRow(Row cached, Row row)
    {
        var pk = Model.PrimaryTable.PrimaryKey;
        if (pk.Length == 0)
        {
            return true;
        }

        foreach (var c in pk)
        {
            cached.TryGetValue(c.Name, out var a);
            row.TryGetValue(c.Name, out var b);
            if (!new CacheKey(a).Equals(new CacheKey(b)))
            {
                return false;
            }
        }

        return true;
    }

    protected override Func<byte[]> CaptureReplyLocked(Subscriber subscriber, string? clientRef)
    {
        var lastRef = _log.LastRef;
        if (clientRef is not null && _log.ResumeFrom(clientRef) is { } entries)
        {
            return () => SubscriptionFrames.DeltaFrame(Name, lastRef, OutgoingChanges(subscriber, entries));
        }

        var rows = new List<Row>(_cache.Values);
        return () => SnapshotFor(subscriber, lastRef, Outgoing(subscriber, rows));
    }
}

/// <summary>A cache key with Python equality: 1 == 1.0, strings by content, null allowed.</summary>
internal readonly struct CacheKey(object? value) : IEquatable<CacheKey>
{
    public object? Value { get; } = value is double d && d == Math.Floor(d) && Math.Abs(d) < 9.2e18 ? (long)d : value is bool b ? (b ? 1L : 0L) : value;

    public bool Equals(CacheKey other) => Equals(Value, other.Value) || (Value is byte[] a && other.Value is byte[] c && a.AsSpan().SequenceEqual(c));

    public override bool Equals(object? obj) => obj is CacheKey k && Equals(k);

    public override int GetHashCode() => Value switch
    {
        null => 0,
        byte[] bytes => bytes.Length,
        _ => Value.GetHashCode(),
    };
}
