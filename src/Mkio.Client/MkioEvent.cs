using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Mkio.Client;

/// <summary>The kind of a subscription message.</summary>
public enum MkioEventType
{
    /// <summary>The full current state: replace everything the consumer holds with <see cref="MkioEvent.Rows"/>.</summary>
    Snapshot,

    /// <summary>The changes since the ref the subscription resumed from: apply <see cref="MkioEvent.Changes"/> in order.</summary>
    Delta,

    /// <summary>One live change: apply <see cref="MkioEvent.Op"/> with <see cref="MkioEvent.Row"/>.</summary>
    Update,

    /// <summary>
    /// The next page of a paged snapshot (later protocol): add <see cref="MkioEvent.Rows"/> to the rows of the
    /// snapshot; <see cref="MkioEvent.HasMore"/> tells whether another page follows.
    /// </summary>
    Page,
}

/// <summary>The op of a change (<see cref="MkioEvent.Op"/> as an enum).</summary>
public enum MkioOperation
{
    /// <summary>No op: the event is a snapshot or a delta.</summary>
    None,

    /// <summary><c>insert</c>: a new row.</summary>
    Insert,

    /// <summary><c>update</c>: a changed row.</summary>
    Update,

    /// <summary><c>delete</c>: the row was removed (the event carries the deleted row).</summary>
    Delete,

    /// <summary><c>upsert</c>: a row inserted or replaced.</summary>
    Upsert,

    /// <summary>An op this client version does not know; read the string <c>Op</c>.</summary>
    Other,
}

/// <summary>
/// One message of a subscription (PROTOCOL.md §7.2–§7.4). Apply them in order: a snapshot replaces
/// the state, a delta applies its changes in order, an update applies one change (<c>delete</c>
/// removes the row, any other op upserts it).
/// </summary>
public sealed class MkioEvent
{
    internal MkioEvent(MkioEventType type, string service, JsonElement message, string? resumedFrom)
    {
        Type = type;
        Service = service;
        Message = message;
        ResumedFrom = resumedFrom;
        var r = MkioClient.GetString(message, "ref");
        Ref = string.IsNullOrEmpty(r) ? null : r;
        SubId = MkioClient.GetString(message, "subid");
        HasMore = message.TryGetProperty("hasmore"u8, out var more) && more.ValueKind == JsonValueKind.True;
        switch (type)
        {
            case MkioEventType.Snapshot:
            case MkioEventType.Page:
                Rows = message.TryGetProperty("rows"u8, out var rows) ? rows : default;
                break;
            case MkioEventType.Delta:
                Changes = message.TryGetProperty("changes"u8, out var changes) ? changes : default;
                break;
            default:
                Op = MkioClient.GetString(message, "op");
                Row = message.TryGetProperty("row"u8, out var row) ? row : default;
                RowKey = RowKeyOf(Row);
                break;
        }
    }

    /// <summary>The later-protocol subscription id the message carries (<c>subid</c>); <see langword="null"/> for a 0.1.0 subscription.</summary>
    public string? SubId { get; }

    /// <summary>
    /// For a snapshot or page of a paged query (later protocol): more rows follow in <see cref="MkioEventType.Page"/>
    /// events, which the client asks for once this event has been taken.
    /// </summary>
    public bool HasMore { get; }

    /// <summary>
    /// For an update from a later query subscription: the row's identity (its <c>_mkio_row</c> tag, the primary
    /// key as text). A row that stops matching the filter arrives as op <c>delete</c> with its new values, so
    /// remove rows by this key rather than by comparing values. <see langword="null"/> otherwise.
    /// </summary>
    public string? RowKey { get; }

    /// <summary>The connection the message came on (paging asks on that connection only).</summary>
    internal object? Origin { get; init; }

    /// <summary>The <c>_mkio_row</c> tag of <paramref name="row"/>, if it has one.</summary>
    public static string? RowKeyOf(JsonElement row) => MkioClient.GetString(row, "_mkio_row");

    /// <summary>Snapshot, delta, update or page.</summary>
    public MkioEventType Type { get; }

    /// <summary>The service the subscription is for.</summary>
    public string Service { get; }

    /// <summary>
    /// The message's ref (the subscription's new recovery cursor), or <see langword="null"/> when it
    /// carries none (a snapshot of an empty log has <c>ref: ""</c>).
    /// </summary>
    public string? Ref { get; }

    /// <summary>For an update: <c>insert</c>, <c>update</c>, <c>delete</c> or <c>upsert</c>; otherwise <see langword="null"/>.</summary>
    public string? Op { get; }

    /// <summary><see cref="Op"/> as an enum: <see cref="MkioOperation.None"/> for a snapshot or delta.</summary>
    public MkioOperation Operation => ParseOperation(Op);

    /// <summary>The enum value of an op string (<see cref="MkioOperation.None"/> for null, <see cref="MkioOperation.Other"/> for an unknown op).</summary>
    internal static MkioOperation ParseOperation(string? op) => op switch
    {
        null => MkioOperation.None,
        "insert" => MkioOperation.Insert,
        "update" => MkioOperation.Update,
        "delete" => MkioOperation.Delete,
        "upsert" => MkioOperation.Upsert,
        _ => MkioOperation.Other,
    };

    /// <summary>
    /// For the snapshot or delta that answers a subscribe carrying a ref (<c>fromRef</c>, or the
    /// cursor the client resubscribed with after a reconnect): that ref. <see langword="null"/> for
    /// a fresh subscribe and for updates.
    /// </summary>
    /// <remarks>
    /// Subpub and query services answer a resume with a delta (or a full snapshot when the ref is
    /// too old). A stream service always answers with a snapshot: after a resume it holds the rows
    /// after the ref (the whole buffer when the ref is too old), to be appended rather than replace
    /// the rows the consumer has (PROTOCOL.md §7.5).
    /// </remarks>
    public string? ResumedFrom { get; }

    /// <summary>For a snapshot or page: the array of rows; otherwise an undefined element (<see cref="JsonValueKind.Undefined"/>).</summary>
    public JsonElement Rows { get; }

    /// <summary>For a delta: the array of <c>{"op", "row"}</c> changes in commit order; otherwise undefined.</summary>
    public JsonElement Changes { get; }

    /// <summary>For an update: the row; otherwise undefined.</summary>
    public JsonElement Row { get; }

    /// <summary>The complete message as received.</summary>
    public JsonElement Message { get; }
}

/// <summary>One change of a delta, with its row deserialized.</summary>
/// <typeparam name="T">The row type.</typeparam>
public sealed class MkioChange<T>
{
    internal MkioChange(string op, T row)
    {
        Op = op;
        Row = row;
    }

    /// <summary><c>insert</c>, <c>update</c>, <c>delete</c> or <c>upsert</c>.</summary>
    public string Op { get; }

    /// <summary><see cref="Op"/> as an enum.</summary>
    public MkioOperation Operation => MkioEvent.ParseOperation(Op);

    /// <summary>The row (for a delete: the deleted row).</summary>
    public T Row { get; }
}

/// <summary>
/// A subscription message with its rows deserialized to <typeparamref name="T"/> (see
/// <see cref="MkioEvent"/> for how to apply it).
/// </summary>
/// <typeparam name="T">The row type.</typeparam>
public sealed class MkioEvent<T>
{
    private MkioEvent(MkioEvent source, IReadOnlyList<T> rows, IReadOnlyList<MkioChange<T>> changes, T? row)
    {
        Source = source;
        Rows = rows;
        Changes = changes;
        Row = row;
    }

    /// <summary>Snapshot, delta or update.</summary>
    public MkioEventType Type => Source.Type;

    /// <summary>The service the subscription is for.</summary>
    public string Service => Source.Service;

    /// <summary>The message's ref, or <see langword="null"/> when it carries none.</summary>
    public string? Ref => Source.Ref;

    /// <summary>For an update: its op; otherwise <see langword="null"/>.</summary>
    public string? Op => Source.Op;

    /// <summary>For an update: its op as an enum; otherwise <see cref="MkioOperation.None"/>.</summary>
    public MkioOperation Operation => Source.Operation;

    /// <summary>The ref the snapshot or delta resumes from (see <see cref="MkioEvent.ResumedFrom"/>).</summary>
    public string? ResumedFrom => Source.ResumedFrom;

    /// <summary>Whether another page follows (see <see cref="MkioEvent.HasMore"/>).</summary>
    public bool HasMore => Source.HasMore;

    /// <summary>For a snapshot or page: the rows; otherwise empty.</summary>
    public IReadOnlyList<T> Rows { get; }

    /// <summary>For a delta: the changes in commit order; otherwise empty.</summary>
    public IReadOnlyList<MkioChange<T>> Changes { get; }

    /// <summary>For an update: the row; otherwise <see langword="default"/>.</summary>
    public T? Row { get; }

    /// <summary>The untyped event this one was made from.</summary>
    public MkioEvent Source { get; }

    internal static MkioEvent<T> From(MkioEvent e, JsonTypeInfo<T> typeInfo)
    {
        switch (e.Type)
        {
            case MkioEventType.Snapshot:
            case MkioEventType.Page:
            {
                var rows = new List<T>(e.Rows.ValueKind == JsonValueKind.Array ? e.Rows.GetArrayLength() : 0);
                if (e.Rows.ValueKind == JsonValueKind.Array)
                {
                    foreach (var r in e.Rows.EnumerateArray())
                    {
                        rows.Add(r.Deserialize(typeInfo)!);
                    }
                }

                return new MkioEvent<T>(e, rows, [], default);
            }

            case MkioEventType.Delta:
            {
                var changes = new List<MkioChange<T>>(e.Changes.ValueKind == JsonValueKind.Array ? e.Changes.GetArrayLength() : 0);
                if (e.Changes.ValueKind == JsonValueKind.Array)
                {
                    foreach (var c in e.Changes.EnumerateArray())
                    {
                        var op = MkioClient.GetString(c, "op") ?? string.Empty;
                        var row = c.TryGetProperty("row"u8, out var r) ? r.Deserialize(typeInfo)! : default!;
                        changes.Add(new MkioChange<T>(op, row));
                    }
                }

                return new MkioEvent<T>(e, [], changes, default);
            }

            default:
                return new MkioEvent<T>(e, [], [], e.Row.ValueKind == JsonValueKind.Undefined ? default : e.Row.Deserialize(typeInfo));
        }
    }
}
