using System.Diagnostics;
using System.Text.Json;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Sessions;
using Mkio.Storage;

namespace Mkio.Services;

/// <summary>
/// Executes transactions (PROTOCOL.md §6, SERVICES.md §5): selects the op set, extracts parameters
/// (precedence bind &gt; data &gt; op default &gt; column default/unchanged (F14) &gt; Missing field),
/// submits to the write batcher and answers after COMMIT. Also answers <c>check</c> from its
/// in-memory result cache.
/// </summary>
internal sealed class TransactionService : MkioService
{
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement;
    private readonly IWriteQueue _writer;
    private readonly MkioRefGenerator _refs;
    private readonly ResultCache _cache;
    private readonly string[] _opNames;

    public TransactionService(TransactionServiceModel model, IWriteQueue writer, MkioRefGenerator refs)
        : base(model)
    {
        Model = model;
        _writer = writer;
        _refs = refs;
        _cache = new ResultCache(model.ResultCacheSize);
        _opNames = [.. model.OpSets.Select(o => o.DisplayName)];
    }

    public new TransactionServiceModel Model { get; }

    public override async ValueTask<PendingReply?> HandleMessageAsync(MkioSession session, Envelope envelope, JsonDocument document, CancellationToken cancellationToken)
    {
        if (envelope.Type.ValueKind == JsonValueKind.String && envelope.Type.ValueEquals("check"u8))
        {
            return PendingReply.Ready(Check(envelope), this);
        }

        if (envelope.RefKind == RefKind.Invalid)
        {
            return PendingReply.Ready(Frames.ErrorReply("Invalid 'ref' field: must be a string", default, envelope.Echo), this);
        }

        var clientRef = envelope.Ref;
        var preCheck = session.TakePreCheck();
        var activity = MkioTelemetry.StartRequest(MkioTelemetry.TransactionSpan, session.ConnectionContext, Name, Kind);
        if (!TryPrepare(envelope, clientRef, out var request, out var error))
        {
            // Errors before submission carry the client's ref, or one generated for the attempt.
            var failedRef = clientRef ?? _refs.Next();
            EndActivity(activity, new WriteOutcome(false, failedRef, error));
            return PendingReply.Ready(Frames.TransactionError(error!, failedRef, envelope.Echo), this);
        }

        request!.User = session.Identity.User;
        request!.PreCheck = preCheck;
        Attach(request!, activity);
        await _writer.SubmitAsync(request!, cancellationToken).ConfigureAwait(false);
        return new TransactionReply(this, request!, clientRef, envelope.Echo) { Owned = document };
    }

    /// <summary>
    /// In-process entry point: prepares and submits a request built from <paramref name="root"/>, written by
    /// <paramref name="user"/> and checked by <paramref name="preCheck"/> in its savepoint when given.
    /// </summary>
    public async ValueTask<WriteOutcome> ExecuteAsync(JsonElement root, CancellationToken cancellationToken, string? user = null, Security.PreCheck? preCheck = null)
    {
        var envelope = new Envelope(root, Name);
        if (envelope.RefKind == RefKind.Invalid)
        {
            return new WriteOutcome(false, string.Empty, "Invalid 'ref' field: must be a string");
        }

        var activity = MkioTelemetry.StartRequest(MkioTelemetry.TransactionSpan, null, Name, Kind);
        if (!TryPrepare(envelope, envelope.Ref, out var request, out var error))
        {
            var failed = new WriteOutcome(false, envelope.Ref ?? _refs.Next(), error);
            EndActivity(activity, failed);
            return failed;
        }

        request!.User = user;
        request!.PreCheck = preCheck;
        Attach(request!, activity);
        await _writer.SubmitAsync(request!, cancellationToken).ConfigureAwait(false);
        var outcome = await request!.Task.ConfigureAwait(false);
        if (outcome.Ok)
        {
            _cache.Add(envelope.Ref ?? outcome.Ref, outcome.Ref);
        }

        EndActivity(activity, outcome);
        return outcome;
    }

    /// <summary>Builds the reply frame for a finished request and records successes for <c>check</c>.</summary>
    internal byte[] Complete(WriteOutcome outcome, string? clientRef, JsonElement msgid)
    {
        if (outcome.Ok)
        {
            _cache.Add(clientRef ?? outcome.Ref, outcome.Ref);
            return Frames.TransactionResult(Name, outcome.Ref, msgid);
        }

        return Frames.TransactionError(outcome.Error ?? "transaction failed", clientRef ?? outcome.Ref, msgid);
    }

    /// <summary>Hands the transaction's span to the writer (its batch span links to it) and names the op set.</summary>
    private void Attach(WriteRequest request, Activity? activity)
    {
        request.Activity = activity;
        if (Model.Named && activity is { IsAllDataRequested: true })
        {
            activity.SetTag("mkio.transaction.op", request.OpSet.DisplayName);
        }
    }

    /// <summary>Ends a transaction's span (null when nothing listens) with its effective ref and outcome.</summary>
    internal static void EndActivity(Activity? activity, WriteOutcome outcome)
    {
        if (activity is null)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag("mkio.transaction.ref", outcome.Ref);
        }

        if (!outcome.Ok)
        {
            activity.SetStatus(ActivityStatusCode.Error, outcome.Error);
        }

        activity.Stop();
    }

    private byte[] Check(Envelope envelope)
    {
        var key = envelope.Ref ?? string.Empty;
        return _cache.TryGet(key, out var effective)
            ? Frames.TransactionResult(Name, effective, envelope.Echo)
            : Frames.TransactionResult(Name, key, envelope.Echo, unknownStatus: true);
    }

    private bool TryPrepare(Envelope envelope, string? clientRef, out WriteRequest? request, out string? error)
    {
        request = null;
        OpSetModel? set;
        var hasOp = envelope.TryGet("op"u8, out var op);
        if (!Model.Named)
        {
            if (hasOp)
            {
                error = $"Unknown op: {PyRepr.Of(op)}"; // a list-form service: no op names to offer
                return false;
            }

            set = Model.OpSets[0];
        }
        else if (hasOp)
        {
            set = op.ValueKind == JsonValueKind.String ? Model.FindOpSet(op) : null;
            if (set is null)
            {
                // The 0.1.0 text first (clients match on it), then what later versions add.
                error = $"Unknown op: {PyRepr.Of(op)}"
                    + ModelCompiler.AvailableTail("ops", op.ValueKind == JsonValueKind.String ? op.GetString() : null, _opNames);
                return false;
            }
        }
        else if (Model.OpSets.Length == 1)
        {
            set = Model.OpSets[0];
        }
        else
        {
            error = "Multiple ops defined — specify 'op' field";
            return false;
        }

        JsonElement data;
        if (!envelope.Root.TryGetProperty("data"u8, out data))
        {
            data = EmptyObject;
        }

        if (data.ValueKind != JsonValueKind.Object)
        {
            error = data.ValueKind switch
            {
                JsonValueKind.Null => "argument of type 'NoneType' is not iterable",
                JsonValueKind.Array => "list indices must be integers or slices, not str",
                JsonValueKind.String => "string indices must be integers, not 'str'",
                JsonValueKind.True or JsonValueKind.False => "argument of type 'bool' is not iterable",
                _ => data.GetRawText().AsSpan().IndexOfAny('.', 'e', 'E') >= 0
                    ? "argument of type 'float' is not iterable"
                    : "argument of type 'int' is not iterable",
            };
            return false;
        }

        var ops = set.Ops;
        var values = new object?[ops.Length][];
        ulong[]? omitted = null; // allocated at the first omitted parameter (WriteRequest.Omitted may be shorter than the ops)
        for (var j = 0; j < ops.Length; j++)
        {
            var ps = ops[j].Params;
            var v = new object?[ps.Length];
            for (var i = 0; i < ps.Length; i++)
            {
                var p = ps[i];
                if (p.Source != ParamSource.Data)
                {
                    continue;
                }

                if (data.TryGetProperty(p.Name, out var el))
                {
                    v[i] = RequestValues.FromJson(el);
                }
                else if (p.HasDefault)
                {
                    v[i] = p.DefaultValue is bool b ? (b ? 1L : 0L) : p.DefaultValue;
                }
                else if (p.Optional && i < 64)
                {
                    omitted ??= new ulong[ops.Length];
                    omitted[j] |= 1UL << i;
                }
                else
                {
                    error = $"Missing field: '{p.Name}'";
                    return false;
                }
            }

            values[j] = v;
        }

        request = new WriteRequest(set, values, omitted ?? [], data, clientRef) { Service = Name };
        error = null;
        return true;
    }

    /// <summary>Insertion-ordered map ref → effective ref of successful transactions, bounded (SERVICES.md §5.8).</summary>
    private sealed class ResultCache(int capacity)
    {
        private readonly Dictionary<string, string> _map = new(StringComparer.Ordinal);
        private readonly Queue<string> _order = new();
        private readonly Lock _lock = new();

        public void Add(string key, string effective)
        {
            lock (_lock)
            {
                if (_map.TryAdd(key, effective))
                {
                    _order.Enqueue(key);
                    while (_map.Count > capacity && _order.TryDequeue(out var old))
                    {
                        _map.Remove(old);
                    }
                }
                else
                {
                    _map[key] = effective;
                }
            }
        }

        public bool TryGet(string key, out string effective)
        {
            lock (_lock)
            {
                return _map.TryGetValue(key, out effective!);
            }
        }
    }
}
