using System.Text.Json;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Later;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Sessions;
using Mkio.Storage;

namespace Mkio.Services.Listeners;

/// <summary>
/// Topic subscriptions (later subscribes naming <c>topic</c>): a topic view keyed by the topic column's value as
/// text, where <c>where</c> freezes a row instead of evicting it; one snapshot row per requested topic (missing topics
/// null-filled and completed by the <c>defaults</c> expressions); every change told as <c>op:"update"</c> with the
/// whole rebuilt row to the entries of the topics it changed. 0.1.0 subscribers keep the evicting cache.
/// </summary>
internal sealed partial class SubPubService
{
    /// <summary>
    /// Topic text → cached row. Kept from start-up when <c>where</c> is set (freezing needs the history); otherwise
    /// built on a topic subscribe and dropped at the first change after the last topic entry left.
    /// </summary>
    private Dictionary<string, Row>? _topics;
    private string[]? _templateColumns;

    /// <summary>The number of topics in the topic view, or null before the first topic subscribe (diagnostics, tests).</summary>
    internal int? TopicCount
    {
        get
        {
            lock (Gate)
            {
                return _topics?.Count;
            }
        }
    }

    private void LoadTopics()
    {
        if (Model.Where is not null)
        {
            _topics = TopicViewOf(_cache.Values);
        }
    }

    private Dictionary<string, Row> TopicViewOf(IEnumerable<Row> rows)
    {
        var view = new Dictionary<string, Row>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (TopicOf(row) is { } topic)
            {
                view[topic] = row;
            }
        }

        return view;
    }

    /// <summary>The service SQL run again: its rows passing <c>where</c>, by topic.</summary>
    private Dictionary<string, Row> QueryTopicView() =>
        TopicViewOf(Engine.Reads.Query(Model.Sql).Where(PassesWhere));

    private string? TopicOf(Row row) => row.TryGetValue(Model.Key!, out var v) ? LaterSubscription.PyStr(v) : null;

    protected override bool TrySubscribeTopics(MkioSession session, Envelope envelope, LaterSubscription later)
    {
        if (!envelope.Root.TryGetProperty("topic"u8, out var topic))
        {
            return false;
        }

        string? error = topic.ValueKind switch
        {
            JsonValueKind.Null => "SubPub subscribe requires 'topic'",
            JsonValueKind.Array when topic.GetArrayLength() == 0 => "SubPub subscribe 'topic' array must not be empty",
            _ => null,
        };
        if (error is not null)
        {
            var frame = WireJson.Serialize(error, static (w, m) =>
            {
                w.WriteStartObject();
                w.WriteString("type"u8, "error"u8);
                w.WritePropertyName("message"u8);
                WireJson.WriteString(w, m);
                w.WriteEndObject();
            });
            session.TrySend(frame, Name);
            NotifyOut(frame);
            return true;
        }

        var topics = topic.ValueKind == JsonValueKind.Array ? topic.EnumerateArray().Select(TopicText).ToList() : [TopicText(topic)];
        var entries = topics.Distinct(StringComparer.Ordinal).Select(later.ForTopic).ToList();
        if (TooManySubscriptions(session, entries) is { } tooMany)
        {
            Reject(session, envelope, later, tooMany);
            return true;
        }

        lock (Gate)
        {
            // Without where the view holds what the service SQL holds (the 0.1.0 cache of a custom SQL keeps table rows).
            _topics ??= Model.HasCustomSql ? QueryTopicView() : TopicViewOf(_cache.Values);
            var rows = new List<Row>(topics.Count);
            foreach (var t in topics)
            {
                rows.Add(TopicRow(t, later));
            }

            SendReply(new Subscriber(session, null) { Later = later }, later.SnapshotFrame(Name, null, rows));
            foreach (var entry in entries)
            {
                RegisterLocked(new Subscriber(session, null) { Later = entry });
            }
        }

        return true;
    }

    /// <summary>A requested topic as text, as Python <c>str</c> renders the JSON value (<c>1</c> → <c>"1"</c>, <c>true</c> → <c>"True"</c>).</summary>
    private static string TopicText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Array or JsonValueKind.Object => PyRepr.Compact(value),
        _ => LaterSubscription.PyStr(LaterProtocol.FromJson(value)),
    };

    /// <summary>
    /// Updates the topic view for one change and tells the entries of the topics it changed. Default SQL, primary
    /// table: a row passing <c>where</c> is cached, one failing it freezes the topic (nothing changes, nobody is told),
    /// a delete evicts. Otherwise the service SQL is run again; with <c>where</c>, topics missing from the result keep
    /// their row. Under <see cref="ListenerService.Gate"/>.
    /// </summary>
    private void ApplyTopics(ChangeEvent change, bool passes)
    {
        if (_topics is null)
        {
            return;
        }

        if (Model.Where is null && !SubscribersLocked.Any(s => s.Later?.Topic is not null))
        {
            // Without where the view is only a copy of the SQL's rows: drop it while nobody follows a topic.
            _topics = null;
            return;
        }

        var changed = new List<string>();
        if (change.Table.Name == Model.PrimaryTable.Name && !Model.HasCustomSql)
        {
            if (TopicOf(change.Row) is not { } topic)
            {
                return;
            }

            if (change.Op == "delete")
            {
                if (_topics.Remove(topic))
                {
                    changed.Add(topic);
                }
            }
            else if (passes)
            {
                _topics[topic] = change.Row;
                changed.Add(topic);
            }
        }
        else
        {
            var view = QueryTopicView();
            if (Model.Where is not null)
            {
                foreach (var (topic, row) in _topics)
                {
                    view.TryAdd(topic, row);
                }
            }

            foreach (var s in SubscribersLocked)
            {
                if (s.Later?.Topic is { } topic && !changed.Contains(topic)
                    && !SameRow(_topics.GetValueOrDefault(topic), view.GetValueOrDefault(topic)))
                {
                    changed.Add(topic);
                }
            }

            _topics = view;
        }

        if (changed.Count > 0)
        {
            NotifyTopics(changed, change.Cause);
        }
    }

    private void NotifyTopics(List<string> changed, string? cause)
    {
        List<MkioSession>? dead = null;
        var notified = false;
        foreach (var s in SubscribersLocked)
        {
            if (s.Later is not { Topic: { } topic } later || !changed.Contains(topic))
            {
                continue;
            }

            var frame = later.UpdateFrame(Name, null, "update", TopicRow(topic, later), cause);
            if (!s.Session.TrySend(frame, Name))
            {
                (dead ??= []).Add(s.Session);
                continue;
            }

            if (!notified)
            {
                notified = true;
                NotifyOut(frame);
            }
        }

        foreach (var session in dead ?? [])
        {
            RemoveLocked(session);
        }
    }

    /// <summary>
    /// The row of one topic for one subscriber. Cached: the <c>publish</c>-formatted row, projected, then
    /// <c>_mkio_ref</c>, <c>_mkio_topic</c>, <c>_mkio_exists: true</c>. Missing (or failing to format, F1): every output
    /// column null, <c>_mkio_ref: null</c>, <c>_mkio_topic</c>, the <c>defaults</c> evaluated against that template,
    /// projected, <c>_mkio_topic</c> again, <c>_mkio_exists: false</c>. Under <see cref="ListenerService.Gate"/>.
    /// </summary>
    private Row TopicRow(string topic, LaterSubscription later)
    {
        if (_topics!.TryGetValue(topic, out var cached) && Format(cached) is { } formatted)
        {
            var @ref = cached.TryGetValue(MkioSchema.RefColumn, out var r) && r is string rs ? rs : string.Empty;
            return LaterSubscription.With(later.Shape(formatted, formatted, null, strict: false), (MkioSchema.RefColumn, @ref), (TopicColumn, topic), (ExistsColumn, true));
        }

        var columns = TemplateColumns();
        var template = new Row(new RowSchema([.. columns, MkioSchema.RefColumn, TopicColumn]), [.. columns.Select(_ => (object?)null), null, topic]);
        var row = template;
        if (Model.TopicDefaults.Length > 0)
        {
            var values = template.Values.ToArray();
            foreach (var (column, expression) in Model.TopicDefaults)
            {
                try
                {
                    values[Array.IndexOf(columns, column)] = expression.Evaluate(template);
                }
                catch (Exception ex)
                {
                    DefaultsFailed(ex);
                }
            }

            row = new Row(template.Schema, values);
        }

        return LaterSubscription.With(later.Shape(row, row, null, strict: false), (TopicColumn, topic), (ExistsColumn, false));
    }

    private const string TopicColumn = "_mkio_topic";
    private const string ExistsColumn = "_mkio_exists";

    /// <summary>The output columns of a missing topic's row: the <c>publish</c> keys, else the service SQL's columns (without <c>_mkio_ref</c>).</summary>
    private string[] TemplateColumns()
    {
        if (_templateColumns is { } known)
        {
            return known;
        }

        var columns = Model.Publish is { } publish
            ? publish.OutputSchema.Names
            : Engine.Reads.ResultColumns($"SELECT * FROM ({Model.Sql}) AS _q LIMIT 0");
        return _templateColumns = [.. columns.Where(c => c != MkioSchema.RefColumn && c != TopicColumn)];
    }

    private static bool SameRow(Row? a, Row? b)
    {
        if (a is null || b is null)
        {
            return ReferenceEquals(a, b);
        }

        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (a.Name(i) != b.Name(i) || !new CacheKey(a[i]).Equals(new CacheKey(b[i])))
            {
                return false;
            }
        }

        return true;
    }
}
