using System.Text.Json;

namespace Mkio;

/// <summary>
/// Logs a connection in from the <c>data</c> of an <c>auth</c> message (<c>{"type":"auth","data":{…}}</c>): a token
/// check, an LDAP bind, a lookup elsewhere. Register one in DI (<c>services.AddSingleton&lt;IMkioAuthenticator, …&gt;()</c>)
/// to replace the built-in users table. The identity it returns is the connection's for access checks, exactly like
/// one from ASP.NET Core authentication at the WebSocket upgrade.
/// </summary>
public interface IMkioAuthenticator
{
    /// <summary>
    /// Checks the credentials in <paramref name="data"/> and returns who logged in. Refuse with
    /// <see cref="MkioAuthenticationException"/> (its message is the reply text); any other exception is logged and
    /// answered <c>authentication failed</c>. Failed logins are delayed and rate-limited by mkio.
    /// </summary>
    /// <param name="data">The message's <c>data</c> (valid only during the call).</param>
    /// <param name="cancellationToken">Cancelled when the connection closes.</param>
    ValueTask<MkioLogin> AuthenticateAsync(JsonElement data, CancellationToken cancellationToken);
}

/// <summary>A successful login: user name, role and any further values SQL access checks may bind.</summary>
public sealed class MkioLogin
{
    /// <summary>Creates a login result.</summary>
    /// <param name="user">The user name (bound as <c>:user</c>).</param>
    /// <param name="role">The role whose rights apply (bound as <c>:role</c>); may be empty.</param>
    /// <param name="values">Further identity values, bound by name in SQL access checks (strings, numbers, booleans or null).</param>
    public MkioLogin(string user, string role, IReadOnlyDictionary<string, object?>? values = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(role);
        User = user;
        Role = role;
        Values = values ?? new Dictionary<string, object?>();
    }

    /// <summary>The user name.</summary>
    public string User { get; }

    /// <summary>The role.</summary>
    public string Role { get; }

    /// <summary>Further identity values (never a password).</summary>
    public IReadOnlyDictionary<string, object?> Values { get; }
}

/// <summary>Thrown by an <see cref="IMkioAuthenticator"/> to refuse a login; the message is sent to the client.</summary>
public sealed class MkioAuthenticationException : Exception
{
    /// <summary>Creates a refusal with the text <c>authentication failed</c>.</summary>
    public MkioAuthenticationException()
        : base("authentication failed")
    {
    }

    /// <summary>Creates a refusal with <paramref name="message"/> as the reply text.</summary>
    public MkioAuthenticationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates a refusal with <paramref name="message"/> as the reply text.</summary>
    public MkioAuthenticationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
