using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;

namespace Mkio.Client;

public sealed partial class MkioClient
{
    private volatile LoginState? _login;

    /// <summary>
    /// The user the server accepted for the current connection's mkio login (<see cref="MkioClientOptions.UserName"/>),
    /// or <see langword="null"/> before the first login and when the client does not log in.
    /// </summary>
    public string? User => _login?.User;

    /// <summary>The role the server reported with <see cref="User"/> (empty when the user has none).</summary>
    public string? Role => _login?.Role;

    /// <summary>
    /// Logs in on a freshly opened connection, before anything else is sent on it (so resubscriptions run as the user).
    /// The receive loop is not running yet: the reply is read here. Throws <see cref="MkioLoginRefusedException"/>
    /// when the server refuses, <see cref="MkioConnectionException"/> when the connection fails or the reply is late.
    /// </summary>
    private async Task LogInAsync(Connection conn, CancellationToken cancellationToken)
    {
        if (_options.UserName is not { Length: > 0 } user || _options.Password is not { } password)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
        var message = new ArrayBufferWriter<byte>(ReceiveBufferSize);
        try
        {
            await conn.Socket.SendAsync(MkioMessages.Auth(user, password), WebSocketMessageType.Text, true, linked.Token).ConfigureAwait(false);
            while (true)
            {
                var r = await conn.Socket.ReceiveAsync(buffer.AsMemory(), linked.Token).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    throw new MkioConnectionException($"The server at {_uri} closed the connection while logging in as '{user}'.");
                }

                message.Write(buffer.AsSpan(0, r.Count));
                if (!r.EndOfMessage)
                {
                    continue;
                }

                var root = Parse(message.WrittenSpan);
                message.ResetWrittenCount();
                var type = GetString(root, "type");
                if (type != "auth")
                {
                    Log.MessageIgnored(_logger, type ?? "(none)");
                    continue;
                }

                if (root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True)
                {
                    _login = new LoginState(GetString(root, "user") ?? user, GetString(root, "role") ?? string.Empty);
                    Log.LoggedIn(_logger, _uri, _login.User, _login.Role);
                    return;
                }

                var reason = GetString(root, "message") is { Length: > 0 } m ? m : "login refused";
                throw new MkioLoginRefusedException(reason);
            }
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            conn.Abort(ex);
            throw new MkioConnectionException($"No login reply from {_uri} within the connect timeout of {Seconds(_options.ConnectTimeout)}.", ex);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException or MkioProtocolException)
        {
            conn.Abort(ex);
            throw new MkioConnectionException($"The connection to {_uri} failed while logging in as '{user}': {ex.Message}", ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Adds the bearer token of <see cref="MkioClientOptions.AccessTokenProvider"/> to the upgrade request.</summary>
    private async Task AddAccessTokenAsync(ClientWebSocket ws, CancellationToken cancellationToken)
    {
        ws.Options.CollectHttpResponseDetails = true;
        if (_options.AccessTokenProvider is { } provider && await provider(cancellationToken).ConfigureAwait(false) is { Length: > 0 } token)
        {
            ws.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }
    }

    /// <summary>An upgrade the host refused as unauthenticated or forbidden.</summary>
    private MkioLoginRefusedException? UpgradeRefused(ClientWebSocket ws, Exception ex) =>
        ws.HttpStatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
            ? new MkioLoginRefusedException($"The server at {_uri} refused the WebSocket upgrade with {(int)ws.HttpStatusCode} {ws.HttpStatusCode}{(_options.AccessTokenProvider is null ? " (no access token is configured)" : string.Empty)}.", ex)
            : null;

    /// <summary>
    /// A reconnect's login was refused: retrying would only repeat the refusal (and run into the server's failed-login
    /// limits), so the client stops, as with reconnect off, and everything waiting ends with <paramref name="refusal"/>.
    /// </summary>
    private void StopAfterRefusedLogin(MkioLoginRefusedException refusal)
    {
        Subscription[] ended;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _state = MkioConnectionState.Closed;
            if (_open.Task.IsCompleted)
            {
                _open = NewOpenSignal();
            }

            Fail(_open, refusal);
            ended = [.. _subscriptions.Values];
            _subscriptions.Clear();
        }

        Log.LoginRefused(_logger, _uri, refusal.Message);
        foreach (var s in ended)
        {
            s.Complete(refusal);
        }
    }

    private sealed record LoginState(string User, string Role);
}
