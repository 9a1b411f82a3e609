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
internal sealed class SubPubService(MkioEngine engine, ListenerServiceModel model) : ListenerService(engine, model)
{
    private readonly OrderedDictionary<CacheKey, Row> _cache = new();
    private readonly ChangeLog _log = new(model.ChangeLogSize);

    protected override void Load()
    {
        LoadedSequence = Engine.Writer.Sequence;
        Rebuild();
        SeedLog(_log, PassesWhere);
    }

    private void Rebuild()
    {
        _cache.Clear();
        var rows = Engine.Database.Read(c => MkioDatabase.Query(c, Model.Sql));
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
                var rows = Engine.Database.Read(c => MkioDatabase.Query(c, $"SELECT * FROM ({Model.Sql}) AS _sub WHERE {Model.Key} = $p1", k.Value));
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

        _log.Append(new LogEntry(change.Sequence, change.Ref, op, change.Row));
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

    protected override void SubscribeLocked(Subscriber subscriber, string? clientRef)
    {
        if (clientRef is not null && _log.ResumeFrom(clientRef) is { } entries)
        {
            var frame = SubscriptionFrames.DeltaFrame(Name, _log.LastRef, OutgoingChanges(subscriber, entries));
            SendReply(subscriber, frame);
        }
        else
        {
            var frame = SubscriptionFrames.SnapshotFrame(Name, _log.LastRef, Outgoing(subscriber, _cache.Values));
            SendReply(subscriber, frame);
        }

        RegisterLocked(subscriber);
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
