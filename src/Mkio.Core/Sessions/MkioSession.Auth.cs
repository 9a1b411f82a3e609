using System.Text.Json;
using Microsoft.Extensions.Logging;
using Mkio.Protocol;
using Mkio.Security;
using Mkio.Services;

namespace Mkio.Sessions;

/// <summary>
/// The <c>auth</c> message (the mkio 1.x login door): <c>{"type":"auth","data":{…}}</c> checked by the host's
/// <see cref="IMkioAuthenticator"/> or the built-in users table; success replaces the connection's identity, failure
/// keeps it. Failed logins are answered after a delay (the connection reads nothing meanwhile) and rate-limited per
/// connection and per user name. Passwords are never logged.
/// </summary>
internal sealed partial class MkioSession
{
    /// <summary>The reply when neither a host authenticator nor the users table exists.</summary>
    public const string NoAuthProvider = "no auth provider configured";

    private async ValueTask HandleAuthAsync(JsonElement root, CancellationToken ct)
    {
        var provider = _engine.LoginProvider;
        if (provider is null)
        {
            _engine.Metrics.Login("failure");
            await EnqueueAsync(PendingReply.Ready(AuthReply(null, NoAuthProvider), null), ct).ConfigureAwait(false);
            return;
        }

        root.TryGetProperty("data", out var data);
        var name = UsersTableAuthenticator.StringField(data, "username") ?? string.Empty;
        var guard = _engine.Logins;
        string failure;
        if (guard.IsLimited(Id, name))
        {
            failure = LoginGuard.TooMany;
            Log.LoginLimited(_engine.Logger, Id, name);
            _engine.Metrics.Login("throttled");
        }
        else
        {
            try
            {
                var login = await provider.AuthenticateAsync(data, ct).ConfigureAwait(false);
                var tableUser = provider is UsersTableAuthenticator ? login.Values.GetValueOrDefault("username") as string : null;
                Identity = MkioIdentity.FromLogin(login, Identity.Authorizer, tableUser, _engine.AuthTables.UsersVersion);
                Log.LoggedIn(_engine.Logger, Id, login.User, login.Role);
                _engine.Metrics.Login("success");
                await EnqueueAsync(PendingReply.Ready(AuthReply(login, null), null), ct).ConfigureAwait(false);
                return;
            }
            catch (MkioAuthenticationException ex)
            {
                failure = string.IsNullOrEmpty(ex.Message) ? "authentication failed" : ex.Message;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                Log.AuthenticatorFailed(_engine.Logger, ex, Id);
                failure = "authentication failed";
            }

            guard.Failed(Id, name);
            Log.LoginFailed(_engine.Logger, Id, name, failure);
            _engine.Metrics.Login("failure");
        }

        var delay = _engine.Model.Options.FailedLoginDelayMs;
        if (delay > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(delay), _engine.Time, ct).ConfigureAwait(false);
        }

        await EnqueueAsync(PendingReply.Ready(AuthReply(null, failure), null), ct).ConfigureAwait(false);
    }

    /// <summary><c>{"type":"auth","ok":true,"user":U,"role":R}</c> or <c>{"type":"auth","ok":false,"message":M}</c>.</summary>
    private static byte[] AuthReply(MkioLogin? login, string? message) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "auth"u8);
            w.WriteBoolean("ok"u8, login is not null);
            if (login is not null)
            {
                w.WritePropertyName("user"u8);
                WireJson.WriteString(w, login.User);
                w.WritePropertyName("role"u8);
                WireJson.WriteString(w, login.Role);
            }
            else
            {
                w.WritePropertyName("message"u8);
                WireJson.WriteString(w, message!);
            }

            w.WriteEndObject();
        });

    private static partial class Log
    {
        [LoggerMessage(EventId = 4211, Level = LogLevel.Information, Message = "Connection {ConnectionId} logged in as '{User}' (role '{Role}').")]
        public static partial void LoggedIn(ILogger logger, long connectionId, string user, string role);

        [LoggerMessage(EventId = 4212, Level = LogLevel.Warning, Message = "Failed login on connection {ConnectionId} for user name '{User}': {Reason}.")]
        public static partial void LoginFailed(ILogger logger, long connectionId, string user, string reason);

        [LoggerMessage(EventId = 4213, Level = LogLevel.Warning, Message = "Login on connection {ConnectionId} for user name '{User}' refused: too many failed logins.")]
        public static partial void LoginLimited(ILogger logger, long connectionId, string user);

        [LoggerMessage(EventId = 4214, Level = LogLevel.Error, Message = "The authenticator failed on connection {ConnectionId}; the login is refused.")]
        public static partial void AuthenticatorFailed(ILogger logger, Exception exception, long connectionId);
    }
}
