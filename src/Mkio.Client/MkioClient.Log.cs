using Microsoft.Extensions.Logging;

namespace Mkio.Client;

public sealed partial class MkioClient
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Lost the connection to {Url} ({Reason}); {PendingCount} pending requests failed; reconnecting: {Reconnect}.")]
        public static partial void ConnectionLost(ILogger logger, Uri url, string reason, int pendingCount, bool reconnect);

        [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Reconnected to {Url} after {Attempts} attempts.")]
        public static partial void Reconnected(ILogger logger, Uri url, int attempts);

        [LoggerMessage(EventId = 5003, Level = LogLevel.Debug, Message = "Reconnect attempt {Attempt} to {Url} after {Delay} failed: {Reason}")]
        public static partial void ReconnectFailed(ILogger logger, Uri url, int attempt, TimeSpan delay, string reason);

        [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "Dropped a {Type} reply (ref '{Ref}') that matches no pending request.")]
        public static partial void ReplyDropped(ILogger logger, string type, string @ref);

        [LoggerMessage(EventId = 5005, Level = LogLevel.Debug, Message = "Ignored a message of type '{Type}'.")]
        public static partial void MessageIgnored(ILogger logger, string type);

        [LoggerMessage(EventId = 5006, Level = LogLevel.Debug, Message = "Dropped a {Type} for service '{Service}': no current subscription awaits it.")]
        public static partial void SubscriptionMessageDropped(ILogger logger, string type, string service);

        [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "The server rejected the subscription to '{Service}': {Message}")]
        public static partial void SubscriptionRejected(ILogger logger, string service, string message);

        [LoggerMessage(EventId = 5008, Level = LogLevel.Error, Message = "Dropping the connection to {Url}: the server violated the protocol.")]
        public static partial void ProtocolViolation(ILogger logger, Uri url, Exception exception);

        [LoggerMessage(EventId = 5009, Level = LogLevel.Debug, Message = "Sending to {Url} failed; the connection is dropped.")]
        public static partial void SendFailed(ILogger logger, Uri url, Exception exception);

        [LoggerMessage(EventId = 5010, Level = LogLevel.Error, Message = "A {Event} event handler threw.")]
        public static partial void HandlerFailed(ILogger logger, string @event, Exception exception);

        [LoggerMessage(EventId = 5011, Level = LogLevel.Critical, Message = "The connection task for {Url} failed; the client stops reconnecting.")]
        public static partial void ConnectionTaskFailed(ILogger logger, Uri url, Exception exception);

        [LoggerMessage(EventId = 5012, Level = LogLevel.Debug, Message = "Logged in to {Url} as '{User}' (role '{Role}').")]
        public static partial void LoggedIn(ILogger logger, Uri url, string user, string role);

        [LoggerMessage(EventId = 5013, Level = LogLevel.Error, Message = "The login to {Url} was refused on reconnect; the client stops reconnecting: {Reason}")]
        public static partial void LoginRefused(ILogger logger, Uri url, string reason);
    }
}
