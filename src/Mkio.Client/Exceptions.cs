using System.Text.Json;

namespace Mkio.Client;

/// <summary>Base class of the exceptions thrown by <see cref="MkioClient"/>.</summary>
public class MkioException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public MkioException()
        : base("An mkio client operation failed.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    /// <param name="message">What went wrong.</param>
    public MkioException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public MkioException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The server answered a request with an <c>error</c> message (PROTOCOL.md §6.3, §9).
/// <see cref="Exception.Message"/> is the server's message text, unchanged.
/// </summary>
public sealed class MkioServerException : MkioException
{
    /// <summary>Creates the exception for an <c>error</c> reply.</summary>
    /// <param name="message">The server's <c>message</c> text.</param>
    /// <param name="service">The service the request was sent to.</param>
    /// <param name="ref">The <c>ref</c> of the reply, if any.</param>
    /// <param name="msgId">The echoed <c>msgid</c>, if any.</param>
    /// <param name="reply">The whole reply.</param>
    public MkioServerException(string message, string service, string? @ref, JsonElement? msgId, JsonElement reply)
        : base(message)
    {
        Service = service;
        Ref = @ref;
        MsgId = msgId;
        Reply = reply;
    }

    /// <summary>The service the request was sent to.</summary>
    public string Service { get; }

    /// <summary>
    /// The reply's <c>ref</c>: the transaction's ref (the client's, or the one the server generated
    /// for the attempt); <see langword="null"/> when the error carries none.
    /// </summary>
    public string? Ref { get; }

    /// <summary>The echoed <c>msgid</c>, or <see langword="null"/> when the request had none.</summary>
    public JsonElement? MsgId { get; }

    /// <summary>The complete <c>error</c> message as received.</summary>
    public JsonElement Reply { get; }
}

/// <summary>The client could not open, or lost, its WebSocket connection to the server.</summary>
public class MkioConnectionException : MkioException
{
    /// <summary>Creates an exception with a default message.</summary>
    public MkioConnectionException()
        : base("The mkio connection failed.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    /// <param name="message">What went wrong.</param>
    public MkioConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause (a <see cref="System.Net.WebSockets.WebSocketException"/>, a <see cref="TimeoutException"/>, …).</param>
    public MkioConnectionException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The connection a request was sent on was lost before its reply arrived. The request may or may
/// not have been executed: when it carried a ref (<see cref="Ref"/>), ask with
/// <see cref="MkioClient.CheckAsync(string, string, System.Threading.CancellationToken)"/> once reconnected.
/// </summary>
public sealed class MkioConnectionLostException : MkioConnectionException
{
    /// <summary>Creates an exception with a default message.</summary>
    public MkioConnectionLostException()
        : base("The mkio connection was lost.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    /// <param name="message">What went wrong.</param>
    public MkioConnectionLostException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">Why the connection was lost, when known.</param>
    public MkioConnectionLostException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a request that was pending on the lost connection.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="service">The service the request was sent to.</param>
    /// <param name="ref">The request's ref, when it carried one.</param>
    /// <param name="innerException">Why the connection was lost, when known.</param>
    public MkioConnectionLostException(string message, string? service, string? @ref, Exception? innerException)
        : base(message, innerException)
    {
        Service = service;
        Ref = @ref;
    }

    /// <summary>The service of the request that was pending, when this exception is about a request.</summary>
    public string? Service { get; }

    /// <summary>
    /// The ref the request carried (its own, or one generated with <see cref="MkioClientOptions.ClientRefs"/>);
    /// <see langword="null"/> for a request the server was to assign a ref to.
    /// </summary>
    public string? Ref { get; }
}

/// <summary>
/// The server rejected a subscription (a <c>nack</c>, PROTOCOL.md §7.9, e.g. a filter that does
/// not parse; or an <c>error</c> such as an unknown service). The subscription is removed and not
/// resubscribed after reconnects. <see cref="Exception.Message"/> is the server's message text.
/// </summary>
public sealed class MkioSubscriptionRejectedException : MkioException
{
    /// <summary>Creates the exception for a rejected subscription.</summary>
    /// <param name="message">The server's message text.</param>
    /// <param name="service">The service that was subscribed to.</param>
    /// <param name="reply">The rejecting message, when the server sent one.</param>
    public MkioSubscriptionRejectedException(string message, string service, JsonElement? reply)
        : base(message)
    {
        Service = service;
        Reply = reply;
    }

    /// <summary>The service that was subscribed to.</summary>
    public string Service { get; }

    /// <summary>The <c>nack</c> or <c>error</c> message as received, when there was one.</summary>
    public JsonElement? Reply { get; }
}

/// <summary>
/// The server sent something the mkio protocol does not allow (a frame that is not a JSON object).
/// The client drops that connection (and reconnects when <see cref="MkioClientOptions.Reconnect"/> is on).
/// </summary>
public sealed class MkioProtocolException : MkioException
{
    /// <summary>Creates an exception with a default message.</summary>
    public MkioProtocolException()
        : base("The mkio server violated the protocol.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    /// <param name="message">What went wrong.</param>
    public MkioProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public MkioProtocolException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The server refused the client's login: the <c>auth</c> message of <see cref="MkioClientOptions.UserName"/> was
/// answered with <c>ok: false</c>, or the WebSocket upgrade was refused with 401/403 (see
/// <see cref="MkioClientOptions.AccessTokenProvider"/>). For a refused <c>auth</c> message <see cref="Exception.Message"/> is
/// the server's text, unchanged (e.g. <c>invalid credentials</c>). Thrown by <see cref="MkioClient.ConnectAsync"/>; after a refused login on a reconnect
/// the client stops reconnecting and every subscription and waiting request ends with it.
/// </summary>
public sealed class MkioLoginRefusedException : MkioException
{
    /// <summary>Creates an exception with a default message.</summary>
    public MkioLoginRefusedException()
        : base("The mkio server refused the login.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    /// <param name="message">The server's refusal text.</param>
    public MkioLoginRefusedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    /// <param name="message">The server's refusal text.</param>
    /// <param name="innerException">The cause.</param>
    public MkioLoginRefusedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
