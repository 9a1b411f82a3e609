using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using System.Threading.Channels;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Security;
using Mkio.Services;

namespace Mkio;

/// <summary>
/// In-process access to a running mkio application: run transactions through the same write path
/// as WebSocket clients, and observe committed changes. Resolve it from DI after <c>AddMkio</c>.
/// </summary>
public interface IMkio
{
    /// <summary>Runs a transaction on <paramref name="service"/> (same rules, batching and events as a WebSocket request).</summary>
    /// <param name="service">A transaction service name.</param>
    /// <param name="data">The field values: a <see cref="JsonElement"/> object, or any object System.Text.Json can serialise to one (e.g. a dictionary).</param>
    /// <param name="op">The named op set, when the service has several.</param>
    /// <param name="ref">Optional client ref; by default the writer assigns one in commit order.</param>
    /// <param name="cancellationToken">Cancels waiting for queue space.</param>
    /// <returns>The outcome: committed with its ref, or the error text a client would receive.</returns>
    /// <exception cref="ArgumentException">No transaction service has that name.</exception>
    Task<MkioResult> ExecuteAsync(string service, object? data, string? op = null, string? @ref = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// An <see cref="IMkio"/> whose transactions run as <paramref name="user"/> (e.g. <c>HttpContext.User</c>): the same
    /// access checks as a WebSocket client with that principal (refusals are the error results
    /// <c>authentication required</c> / <c>permission denied</c>; SQL checks run in the request's savepoint), and the
    /// user's name is the writer recorded in versioned tables' history. Without access control only the name is used.
    /// The <see cref="IMkio"/> from DI itself acts with full rights.
    /// </summary>
    /// <param name="user">The principal to act as; an unauthenticated one is anonymous.</param>
    /// <returns>An <see cref="IMkio"/> acting as <paramref name="user"/>.</returns>
    IMkio AsUser(ClaimsPrincipal user);

    /// <summary>
    /// An <see cref="IMkio"/> whose transactions run as a user of the mkio login (user, role and further values, as an
    /// <see cref="IMkioAuthenticator"/> returns them): rights from <c>_mkio_rights</c>, values bound in SQL checks.
    /// </summary>
    /// <param name="login">The identity to act as.</param>
    /// <returns>An <see cref="IMkio"/> acting as <paramref name="login"/>.</returns>
    IMkio AsUser(MkioLogin login);

    /// <summary>
    /// Streams every change committed from now on (optionally only for <paramref name="tables"/>), in
    /// commit order. A consumer that falls more than 100,000 batches behind ends with an
    /// <see cref="InvalidOperationException"/> rather than losing changes silently.
    /// </summary>
    /// <param name="tables">Tables to watch, or null for all.</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The committed changes.</returns>
    IAsyncEnumerable<MkioChange> WatchAsync(IEnumerable<string>? tables = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the history of a versioned table: every recorded version (<c>_mkio_version</c>, <c>_mkio_op</c>,
    /// <c>_mkio_ref</c>, <c>_mkio_user</c>, <c>_mkio_service</c> and the recorded columns), ordered by key, then version.
    /// </summary>
    /// <param name="table">The versioned table, or its <c>&lt;table&gt;__history</c> table.</param>
    /// <param name="key">Only this primary-key value (for a composite key an array of its values in key order), or null for every key.</param>
    /// <param name="since">Only versions whose <c>_mkio_ref</c> is at or after this ref.</param>
    /// <param name="until">Only versions whose <c>_mkio_ref</c> is before this ref.</param>
    /// <param name="limit">At most this many rows.</param>
    /// <param name="newestFirst">Keys and versions in descending order.</param>
    /// <param name="cancellationToken">Cancels waiting for a read connection.</param>
    /// <returns>The history rows.</returns>
    /// <exception cref="ArgumentException">The table is not versioned (the message names the versioned tables).</exception>
    Task<IReadOnlyList<IReadOnlyDictionary<string, object?>>> HistoryAsync(string table, object? key = null, string? since = null, string? until = null, int limit = 1000, bool newestFirst = false, CancellationToken cancellationToken = default);
}

/// <summary>The outcome of an in-process transaction.</summary>
/// <param name="Ok">True when committed.</param>
/// <param name="Ref">The transaction's ref (the one stamped into <c>_mkio_ref</c>).</param>
/// <param name="Error">The error text when not committed.</param>
public sealed record MkioResult(bool Ok, string Ref, string? Error);

/// <summary>One committed change.</summary>
public sealed class MkioChange
{
    internal MkioChange(ChangeEvent e)
    {
        Table = e.Table.Name;
        Op = e.Op;
        Ref = e.Ref;
        Sequence = e.Sequence;
        Row = ToDictionary(e.Row);
        Cause = e.Cause;
        Old = e.Old is { } old ? ToDictionary(old) : null;
    }

    /// <summary>A row as a dictionary of column → value.</summary>
    internal static Dictionary<string, object?> ToDictionary(Row source)
    {
        var row = new Dictionary<string, object?>(source.Count, StringComparer.Ordinal);
        for (var i = 0; i < source.Count; i++)
        {
            row[source.Name(i)] = source[i];
        }

        return row;
    }

    /// <summary>The table written.</summary>
    public string Table { get; }

    /// <summary><c>insert</c>, <c>update</c>, <c>delete</c> or <c>upsert</c>.</summary>
    public string Op { get; }

    /// <summary>The transaction ref.</summary>
    public string Ref { get; }

    /// <summary>The commit sequence number (increasing across the database's life).</summary>
    public long Sequence { get; }

    /// <summary>The full affected row (values: null, long, double, string or byte[]).</summary>
    public IReadOnlyDictionary<string, object?> Row { get; }

    /// <summary>
    /// <c>undo</c> or <c>redo</c> when an undo/redo op on a versioned table made this change (<see cref="Op"/> is then
    /// the actual <c>insert</c>, <c>update</c> or <c>delete</c>); null otherwise, and for changes replayed after a restart.
    /// </summary>
    public string? Cause { get; }

    /// <summary>
    /// For an undo/redo change, the row as it was before (null when a redo rebuilt a deleted row); null for every other
    /// change. In-process only: never sent to clients.
    /// </summary>
    public IReadOnlyDictionary<string, object?>? Old { get; }
}

/// <summary>The <see cref="IMkio"/> implementation over a running engine.</summary>
internal sealed class MkioInProcess(Func<MkioEngine> engine, Func<IMkioAuthorizer?>? authorizer = null, MkioIdentity? identity = null) : IMkio
{
    public IMkio AsUser(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return new MkioInProcess(engine, authorizer, new MkioIdentity(user, authorizer?.Invoke()));
    }

    public IMkio AsUser(MkioLogin login)
    {
        ArgumentNullException.ThrowIfNull(login);
        return new MkioInProcess(engine, authorizer, MkioIdentity.FromLogin(login, authorizer?.Invoke()));
    }

    public async Task<MkioResult> ExecuteAsync(string service, object? data, string? op = null, string? @ref = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        var e = engine();
        if (!e.TryGetService(service, out var s) || s is not TransactionService tx)
        {
            throw new ArgumentException($"No transaction service named '{service}'.", nameof(service));
        }

        var message = new Dictionary<string, object?> { ["data"] = data is JsonElement je ? je : JsonSerializer.SerializeToElement(data) };
        if (op is not null)
        {
            message["op"] = op;
        }

        if (@ref is not null)
        {
            message["ref"] = @ref;
        }

        using var doc = JsonSerializer.SerializeToDocument(message);
        PreCheck? preCheck = null;
        if (identity is not null && e.Access.Enabled)
        {
            // The one enforcement point of WebSocket messages, for this identity.
            var current = e.AuthTables.Refresh(identity);
            doc.RootElement.TryGetProperty("op", out var opElement);
            var decision = await e.Access.DecideAsync(current, e.Access.ForMessage(service, opElement)).ConfigureAwait(false);
            if (decision.Refusal is { } refusal)
            {
                return new MkioResult(false, @ref ?? string.Empty, refusal);
            }

            if (decision.CheckSql is { } sql)
            {
                preCheck = new PreCheck(sql, PreCheck.Binds(current.Values, doc.RootElement));
            }
        }

        var outcome = await tx.ExecuteAsync(doc.RootElement, cancellationToken, identity?.User, preCheck).ConfigureAwait(false);
        return new MkioResult(outcome.Ok, outcome.Ref, outcome.Error);
    }

    public async Task<IReadOnlyList<IReadOnlyDictionary<string, object?>>> HistoryAsync(string table, object? key = null, string? since = null, string? until = null, int limit = 1000, bool newestFirst = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        var e = engine();
        var history = Versioning.HistoryReader.Resolve(e.Model, table);
        List<Data.Row> rows;
        if (e.PostgresReads is { } pg)
        {
            var (sql, args) = Versioning.HistoryReader.Select(history, key, since, until, limit, newestFirst);
            rows = await Task.Run(() => pg.Query(sql, args), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            rows = await e.Database.ReadAsync(c => Versioning.HistoryReader.Read(c, history, key, since, until, limit, newestFirst), cancellationToken).ConfigureAwait(false);
        }

        return [.. rows.Select(r => (IReadOnlyDictionary<string, object?>)MkioChange.ToDictionary(r))];
    }

    public async IAsyncEnumerable<MkioChange> WatchAsync(IEnumerable<string>? tables = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var watcher = new Watcher(tables?.ToHashSet(StringComparer.Ordinal));
        using var subscription = engine().Bus.Subscribe(watcher);
        while (await watcher.Queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (watcher.Queue.Reader.TryRead(out var batch))
            {
                foreach (var e in batch)
                {
                    yield return new MkioChange(e);
                }
            }
        }
    }

    private sealed class Watcher(HashSet<string>? tables) : IChangeListener
    {
        public Channel<IReadOnlyList<ChangeEvent>> Queue { get; } = Channel.CreateBounded<IReadOnlyList<ChangeEvent>>(new BoundedChannelOptions(100_000) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        public IReadOnlyCollection<string>? Tables => tables;

        public void OnCommitted(IReadOnlyList<ChangeEvent> events)
        {
            if (!Queue.Writer.TryWrite(events))
            {
                Queue.Writer.TryComplete(new InvalidOperationException("The change watcher fell more than 100,000 batches behind and was stopped."));
            }
        }
    }
}
