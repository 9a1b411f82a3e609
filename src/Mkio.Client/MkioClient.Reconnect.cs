using System.Net.WebSockets;

namespace Mkio.Client;

public sealed partial class MkioClient
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The connection task: receive until the connection ends, fail what was pending on it, then
    /// reconnect with backoff, resubscribe and go on with the new connection (CLIENTS.md §5).
    /// </summary>
    private async Task RunAsync(Connection conn)
    {
        try
        {
            while (true)
            {
                var loss = await ReceiveLoopAsync(conn).ConfigureAwait(false);
                var (handled, reconnect) = HandleLoss(conn, loss);
                if (handled)
                {
                    // Otherwise disposal took the connection over and disposes it.
                    conn.Dispose();
                }

                if (!reconnect)
                {
                    return;
                }

                var next = await ReconnectAsync().ConfigureAwait(false);
                if (next is null)
                {
                    return;
                }

                conn = next;
                RaiseConnected();
            }
        }
        catch (Exception ex)
        {
            Log.ConnectionTaskFailed(_logger, _uri, ex);
        }
    }

    /// <summary>
    /// Fails the requests pending on the lost connection. Returns whether this call handled the
    /// loss (false when disposal got there first) and whether to reconnect.
    /// </summary>
    private (bool Handled, bool Reconnect) HandleLoss(Connection conn, LossInfo loss)
    {
        List<PendingRequest> failed = [];
        Subscription[] ended = [];
        bool reconnect;
        lock (_lock)
        {
            if (conn.Lost)
            {
                // Disposal already took everything over.
                return (false, false);
            }

            conn.Lost = true;
            conn.TakeAllPending(failed);
            if (ReferenceEquals(_connection, conn))
            {
                _connection = null;
            }

            reconnect = _options.Reconnect && !_disposed;
            if (!_disposed)
            {
                _state = reconnect ? MkioConnectionState.Reconnecting : MkioConnectionState.Closed;
                if (_open.Task.IsCompleted)
                {
                    _open = NewOpenSignal();
                }

                if (!reconnect)
                {
                    Fail(_open, new MkioConnectionLostException($"The connection to {_uri} was lost and {nameof(MkioClientOptions)}.{nameof(MkioClientOptions.Reconnect)} is off.", loss.Error));
                    ended = [.. _subscriptions.Values];
                    _subscriptions.Clear();
                }
                else
                {
                    // A paged query is not resumed: it would start over.
                    ended = [.. _subscriptions.Values.Where(s => s.Later is { Resume: false })];
                    foreach (var s in ended)
                    {
                        _subscriptions.Remove(s.Key);
                    }
                }
            }
        }

        conn.MarkLossHandled();
        Log.ConnectionLost(_logger, _uri, loss.CloseStatus?.ToString() ?? loss.Error?.Message ?? "closed", failed.Count, reconnect);
        foreach (var p in failed)
        {
            var hint = p.Ref is null
                ? string.Empty
                : $" (ref {p.Ref}; CheckAsync tells whether it committed)";
            p.Fail(new MkioConnectionLostException(
                $"The connection to {_uri} was lost before the reply from service '{p.Service}' arrived{hint}.", p.Service, p.Ref, loss.Error));
        }

        foreach (var s in ended)
        {
            var why = reconnect ? "a paged query is not resumed" : $"{nameof(MkioClientOptions)}.{nameof(MkioClientOptions.Reconnect)} is off";
            s.Complete(new MkioConnectionLostException($"The connection to {_uri} was lost and {why}; the subscription to '{s.Service}' ended.", loss.Error));
        }

        RaiseDisconnected(new MkioDisconnectedEventArgs(loss.Error, loss.CloseStatus, loss.CloseStatusDescription, reconnect));
        return (true, reconnect);
    }

    /// <summary>Waits the backoff, doubling it up to the maximum, until a connection opens; null when disposed.</summary>
    private async Task<Connection?> ReconnectAsync()
    {
        var token = _lifetime.Token;
        var backoff = _options.BackoffBase;
        for (var attempt = 1; !_disposed; attempt++)
        {
            try
            {
                await Task.Delay(backoff, _time, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            var delay = backoff;
            backoff = backoff >= _options.BackoffMax / 2 ? _options.BackoffMax : backoff * 2;
            Connection conn;
            try
            {
                conn = await OpenAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return null;
            }
            catch (MkioConnectionException ex)
            {
                Log.ReconnectFailed(_logger, _uri, attempt, delay, ex.Message);
                continue;
            }
            catch (MkioLoginRefusedException ex)
            {
                StopAfterRefusedLogin(ex);
                return null;
            }

            bool ok;
            try
            {
                // Log in again before resubscribing, so every subscription resumes as the user.
                await LogInAsync(conn, token).ConfigureAwait(false);
                ok = await ActivateAsync(conn, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                ok = false;
            }
            catch (MkioConnectionException ex)
            {
                Log.ReconnectFailed(_logger, _uri, attempt, delay, ex.Message);
                ok = false;
            }
            catch (MkioLoginRefusedException ex)
            {
                conn.Dispose();
                StopAfterRefusedLogin(ex);
                return null;
            }

            if (ok)
            {
                Log.Reconnected(_logger, _uri, attempt);
                return conn;
            }

            conn.Dispose();
        }

        return null;
    }

    /// <summary>
    /// Sends a subscribe (filter and cursor) for every subscription not yet sent on
    /// <paramref name="conn"/>, then makes it the open connection. Returns false when the
    /// connection failed meanwhile or the client was disposed.
    /// </summary>
    private async Task<bool> ActivateAsync(Connection conn, CancellationToken cancellationToken)
    {
        while (true)
        {
            Subscription[] todo;
            lock (_lock)
            {
                if (_disposed || conn.Lost || conn.IsAborted)
                {
                    return false;
                }

                todo = [.. _subscriptions.Values.Where(s => !ReferenceEquals(s.SentOn, conn))];
                if (todo.Length == 0)
                {
                    _connection = conn;
                    _state = MkioConnectionState.Open;
                    _open.TrySetResult(conn);
                    return true;
                }
            }

            foreach (var sub in todo)
            {
                await SendSubscribeAsync(conn, sub, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Opens a WebSocket within <see cref="MkioClientOptions.ConnectTimeout"/>.</summary>
    private async Task<Connection> OpenAsync(CancellationToken cancellationToken)
    {
        var ws = new ClientWebSocket();
        try
        {
            ws.Options.KeepAliveInterval = KeepAlive;
            ws.Options.KeepAliveTimeout = KeepAlive;
            _options.ConfigureWebSocket?.Invoke(ws.Options);
            await AddAccessTokenAsync(ws, cancellationToken).ConfigureAwait(false);
            using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                await ws.ConnectAsync(_uri, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new MkioConnectionException(
                    $"Could not connect to {_uri}: no WebSocket connection within the connect timeout of {Seconds(_options.ConnectTimeout)}.",
                    new TimeoutException($"The WebSocket connect did not complete within {Seconds(_options.ConnectTimeout)}.", ex));
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException or IOException)
            {
                if (UpgradeRefused(ws, ex) is { } refused)
                {
                    throw refused;
                }

                var detail = ex.InnerException is { } inner && inner.Message != ex.Message ? $"{ex.Message} ({inner.Message})" : ex.Message;
                throw new MkioConnectionException($"Could not connect to {_uri}: {detail}", ex);
            }

            return new Connection(ws);
        }
        catch
        {
            ws.Dispose();
            throw;
        }
    }
}
