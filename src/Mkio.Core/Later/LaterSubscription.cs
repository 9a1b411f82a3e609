using System.Globalization;
using System.Text.Json;
using Mkio.Data;
using Mkio.Model;
using Mkio.Protocol;

namespace Mkio.Later;

/// <summary>
/// What a later subscribe asked for beyond 0.1.0 (a subscribe with a later marker): its <c>subid</c> (the group it
/// belongs to, echoed on every frame), its <c>fields</c> projection, the query <c>snapshot</c>/<c>updates</c> flags,
/// and, for a filtered query subscription, the row ids already sent (filter-out deletes). Such a subscription gets
/// later shapes from start to end: snapshots with <c>hasmore</c>, no <c>delta</c>, no <c>ref</c> on subpub and query
/// frames.
/// </summary>
internal sealed class LaterSubscription
{
    private Projection? _projection;

    private LaterSubscription(string? subId, string[]? fields, bool snapshot, bool updates)
    {
        SubId = subId;
        Fields = fields;
        Snapshot = snapshot;
        Updates = updates;
    }

    /// <summary>The group this subscription belongs to; null when none was given (or it was not a string).</summary>
    public string? SubId { get; private set; }

    /// <summary>Query pagination: the positive integer <c>maxcount</c> (booleans rejected), or null for no paging.</summary>
    public int? MaxCount { get; private init; }

    /// <summary>Stream backward paging: the subscribe's <c>before</c> is exactly <c>true</c>.</summary>
    public bool Before { get; private init; }

    /// <summary>Subpub topic subscription: the topic (as text) this entry follows, or null for a whole-cache entry.</summary>
    public string? Topic { get; private init; }

    /// <summary>A copy of this subscription for one topic of a topic subscribe (one entry per topic).</summary>
    public LaterSubscription ForTopic(string topic) =>
        new(SubId, Fields, Snapshot, Updates) { MaxCount = MaxCount, Before = Before, Topic = topic };

    /// <summary>Query pagination in progress (the rows not yet sent and the updates buffered meanwhile), or null when live.</summary>
    public QueryPaging? Paging { get; set; }

    /// <summary>Gives a paging subscription without a subid the one the server invented (<c>_mkio_q_&lt;n&gt;</c>).</summary>
    public void AssignSubId(string subId) => SubId ??= subId;

    /// <summary>The projected columns, or null for every column.</summary>
    public string[]? Fields { get; }

    /// <summary>Query: whether the snapshot is sent (<c>snapshot</c>, default true; any JSON falsy value is false).</summary>
    public bool Snapshot { get; }

    /// <summary>Query: whether the subscription is registered for live updates (<c>updates</c>, default true).</summary>
    public bool Updates { get; }

    /// <summary>Ids (<c>_mkio_row</c>) of the rows sent to a filtered query subscriber; null when not tracked.</summary>
    public HashSet<string>? Sent { get; set; }

    /// <summary>The later part of a subscribe, or null for a 0.1.0 subscribe (no later marker).</summary>
    public static LaterSubscription? Parse(JsonElement root)
    {
        if (!LaterProtocol.IsLater(root))
        {
            return null;
        }

        var subId = root.TryGetProperty("subid"u8, out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        string[]? fields = null;
        if (root.TryGetProperty("fields"u8, out var f) && f.ValueKind == JsonValueKind.Array)
        {
            fields = [.. f.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)];
        }

        int? maxCount = root.TryGetProperty("maxcount"u8, out var m) && m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out var n) && n > 0 ? n : null;
        return new LaterSubscription(subId, fields, Flag(root, "snapshot"u8), Flag(root, "updates"u8)) { MaxCount = maxCount, Before = root.TryGetProperty("before"u8, out var b) && b.ValueKind == JsonValueKind.True };
    }

    /// <summary>
    /// Whether two entries of one connection and service replace each other: neither has a subid, or both the same;
    /// and (subpub topics) both follow the same topic, or neither follows one.
    /// </summary>
    public static bool Replaces(LaterSubscription? a, LaterSubscription? b) =>
        string.Equals(a?.SubId, b?.SubId, StringComparison.Ordinal) && string.Equals(a?.Topic, b?.Topic, StringComparison.Ordinal);

    /// <summary>
    /// The row as this subscriber receives it: query row tags (<paramref name="keys"/> not null) added after the
    /// formatter — <c>_mkio_ref</c> from the source row, then <c>_mkio_row</c> — then the projection (query and subpub
    /// keep every <c>_mkio_</c> key; <paramref name="strict"/> (stream) keeps exactly the listed ones).
    /// </summary>
    public Row Shape(Row formatted, Row source, string[]? keys, bool strict)
    {
        var row = keys is null ? formatted : Tag(formatted, source, keys);
        return Fields is null ? row : Project(row, strict);
    }

    /// <summary>The <c>_mkio_row</c> id of a tagged row, or null.</summary>
    public static string? RowId(Row tagged) =>
        tagged.TryGetValue(RowIdColumn, out var v) ? v as string : null;

    /// <summary>Name of the row-id tag.</summary>
    public const string RowIdColumn = "_mkio_row";

    /// <summary>
    /// <c>_mkio_ref</c> set to the source row's (or <c>""</c>), then <c>_mkio_row</c> when every key column has a value
    /// in the source: one column as Python <c>str</c> text, several as a compact JSON array of the raw values.
    /// </summary>
    public static Row Tag(Row formatted, Row source, string[] keys)
    {
        var @ref = source.TryGetValue(MkioSchema.RefColumn, out var r) && r is string rs ? rs : "";
        return RowKey(source, keys) is { } id
            ? With(formatted, (MkioSchema.RefColumn, @ref), (RowIdColumn, id))
            : With(formatted, (MkioSchema.RefColumn, @ref));
    }

    /// <summary>The row with each key set: in place when present (it keeps its position), else appended.</summary>
    public static Row With(Row row, params ReadOnlySpan<(string Name, object? Value)> set)
    {
        var names = new List<string>(row.Schema.Names);
        var values = new List<object?>(row.Values.ToArray());
        foreach (var (name, value) in set)
        {
            var i = names.IndexOf(name);
            if (i >= 0)
            {
                values[i] = value;
            }
            else
            {
                names.Add(name);
                values.Add(value);
            }
        }

        return new Row(new RowSchema(names), [.. values]);
    }

    private static string? RowKey(Row source, string[] keys)
    {
        if (keys.Length == 0)
        {
            return null;
        }

        var raw = new object?[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            if (!source.TryGetValue(keys[i], out raw[i]))
            {
                return null;
            }
        }

        if (keys.Length == 1)
        {
            return PyStr(raw[0]);
        }

        return System.Text.Encoding.UTF8.GetString(WireJson.Serialize(raw, static (w, values) =>
        {
            w.WriteStartArray();
            foreach (var v in values)
            {
                WireJson.WriteValue(w, v);
            }

            w.WriteEndArray();
        }));
    }

    /// <summary>A value as Python <c>str</c> renders it: integer digits, float repr, <c>None</c>, <c>True</c>/<c>False</c>.</summary>
    public static string PyStr(object? value) => value switch
    {
        null => "None",
        string s => s,
        bool b => b ? "True" : "False",
        long or int or System.Numerics.BigInteger => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        double or float => System.Text.Encoding.UTF8.GetString(WireJson.Serialize(Convert.ToDouble(value, CultureInfo.InvariantCulture), static (w, d) => WireJson.WriteDouble(w, d))),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "None",
    };

    /// <summary>Keeps the listed columns in row order (and, unless strict, every <c>_mkio_</c> key).</summary>
    private Row Project(Row row, bool strict)
    {
        // One immutable plan per source schema, swapped whole: a snapshot built outside the service lock and a
        // change fanned out under it may shape rows for the same subscriber at once.
        var plan = Volatile.Read(ref _projection);
        if (plan is null || !ReferenceEquals(plan.From, row.Schema) || plan.Strict != strict)
        {
            var indexes = new List<int>();
            var names = new List<string>();
            for (var i = 0; i < row.Count; i++)
            {
                var name = row.Name(i);
                if (Fields!.Contains(name, StringComparer.Ordinal) || (!strict && name.StartsWith("_mkio_", StringComparison.Ordinal)))
                {
                    indexes.Add(i);
                    names.Add(name);
                }
            }

            plan = new Projection(row.Schema, strict, [.. indexes], new RowSchema(names));
            Volatile.Write(ref _projection, plan);
        }

        var values = new object?[plan.Indexes.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = row[plan.Indexes[i]];
        }

        return new Row(plan.Schema, values);
    }

    /// <summary>Absent → true; otherwise JSON truthiness (null, false, 0, "", [], {} are false).</summary>
    private static bool Flag(JsonElement root, ReadOnlySpan<byte> name)
    {
        if (!root.TryGetProperty(name, out var v))
        {
            return true;
        }

        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.Null or JsonValueKind.False => false,
            JsonValueKind.Number => v.GetDouble() != 0,
            JsonValueKind.String => v.GetString()!.Length > 0,
            JsonValueKind.Array => v.GetArrayLength() > 0,
            JsonValueKind.Object => v.EnumerateObject().Any(),
            _ => true,
        };
    }

    /// <summary><c>{"type":"snapshot","service":S,"rows":[…],"hasmore":B[,"ref":R][,"subid":I]}</c>.</summary>
    public byte[] SnapshotFrame(string service, string? @ref, List<Row> rows, bool hasMore = false) =>
        WireJson.Serialize((service, @ref, rows, hasMore, SubId), static (w, s) =>
        {
            WriteHead(w, "snapshot"u8, s.service);
            w.WritePropertyName("rows"u8);
            w.WriteStartArray();
            foreach (var r in s.rows)
            {
                WireJson.WriteRow(w, r);
            }

            w.WriteEndArray();
            w.WriteBoolean("hasmore"u8, s.hasMore);
            WriteTail(w, s.@ref, s.SubId);
            w.WriteEndObject();
        });

    /// <summary>
    /// <c>{"type":"update","service":S,"op":O,"row":{…}[,"ref":R][,"subid":I][,"cause":C]}</c> — <c>cause</c>
    /// (<c>undo</c>/<c>redo</c>) last, only on a change an undo/redo op of a versioned table made.
    /// </summary>
    public byte[] UpdateFrame(string service, string? @ref, string op, Row row, string? cause = null) =>
        WireJson.Serialize((service, @ref, op, row, SubId, cause), static (w, s) =>
        {
            WriteHead(w, "update"u8, s.service);
            w.WritePropertyName("op"u8);
            WireJson.WriteString(w, s.op);
            w.WritePropertyName("row"u8);
            WireJson.WriteRow(w, s.row);
            WriteTail(w, s.@ref, s.SubId);
            if (s.cause is not null)
            {
                w.WritePropertyName("cause"u8);
                WireJson.WriteString(w, s.cause);
            }

            w.WriteEndObject();
        });

    /// <summary><c>{"type":"nack","service":S,"message":M[,"subid":I]}</c> — a getmore refusal (no ref/txnid echo).</summary>
    public static byte[] GetMoreNack(string service, string message, string? subId) =>
        WireJson.Serialize((service, message, subId), static (w, s) =>
        {
            WriteHead(w, "nack"u8, s.service);
            w.WritePropertyName("message"u8);
            WireJson.WriteString(w, s.message);
            WriteTail(w, null, s.subId);
            w.WriteEndObject();
        });

    private static void WriteHead(Utf8JsonWriter w, ReadOnlySpan<byte> type, string service)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, type);
        w.WritePropertyName("service"u8);
        WireJson.WriteString(w, service);
    }

    private static void WriteTail(Utf8JsonWriter w, string? @ref, string? subId)
    {
        if (@ref is not null)
        {
            w.WritePropertyName("ref"u8);
            WireJson.WriteString(w, @ref);
        }

        if (subId is not null)
        {
            w.WritePropertyName("subid"u8);
            WireJson.WriteString(w, subId);
        }
    }

    private sealed record Projection(RowSchema From, bool Strict, int[] Indexes, RowSchema Schema);
}

/// <summary>
/// A query subscription between its first page and its last: the shaped rows still to send, and the update frames
/// fanned out meanwhile (sent, to the client only, after the last page). Past the cap it is overflowed: its data is
/// dropped and the next getmore ends it with a nack. Guarded by the service's gate.
/// </summary>
internal sealed class QueryPaging(Queue<Row> remaining, int cap, long now)
{
    public Queue<Row> Remaining { get; } = remaining;

    public List<byte[]> Buffered { get; } = [];

    public bool Overflowed { get; private set; }

    /// <summary>When the last getmore (or the first page) was handled (a <see cref="TimeProvider.GetTimestamp"/> value).</summary>
    public long LastActivity { get; set; } = now;

    /// <summary>Buffers one update frame, or marks the paging overflowed when rows and updates exceed the cap.</summary>
    public void Buffer(byte[] frame)
    {
        if (Overflowed)
        {
            return;
        }

        if (Remaining.Count + Buffered.Count + 1 > cap)
        {
            Overflowed = true;
            Remaining.Clear();
            Buffered.Clear();
            return;
        }

        Buffered.Add(frame);
    }
}
