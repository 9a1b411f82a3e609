using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;
using Mkio.Changes;
using Mkio.Model;
using Mkio.Storage;

namespace Mkio.Security;

/// <summary>
/// The built-in <c>_mkio_rights</c> (role → rights) and <c>_mkio_users</c> tables of one engine. Rights are cached and
/// reloaded on the first check after a committed write to <c>_mkio_rights</c> (the change bus delivers it before the
/// write is acknowledged, so the next request sees it; on PostgreSQL the journal tail delivers every node's writes, so
/// a change written on another node applies once this node has followed the journal that far); logged-in users re-read their row after a write to
/// <c>_mkio_users</c>, so a role change applies to their next request. <see cref="Changed"/> lets the engine re-check
/// live subscriptions.
/// </summary>
internal sealed class AuthTables : IChangeListener
{
    private static readonly string[] Watched = [AccessControl.RightsTable, AccessControl.UsersTable];
    private readonly Func<IStoreReads> _reads;
    private readonly Lock _lock = new();
    private long _rightsVersion;
    private long _usersVersion;
    private long _loadedRights = -1;
    private FrozenDictionary<string, FrozenSet<string>> _rights = FrozenDictionary<string, FrozenSet<string>>.Empty;

    /// <param name="options">The configuration (which of the tables are declared).</param>
    /// <param name="reads">The store the tables are read from (SQLite or PostgreSQL), resolved at the first read.</param>
    public AuthTables(MkioOptions options, Func<IStoreReads> reads)
    {
        _reads = reads;
        HasRights = options.Tables.Any(t => t.Name == AccessControl.RightsTable);
        HasUsers = options.Tables.Any(t => t.Name == AccessControl.UsersTable);
    }

    /// <summary>True when <c>_mkio_rights</c> is configured: right names are looked up in it.</summary>
    public bool HasRights { get; }

    /// <summary>True when <c>_mkio_users</c> is configured: the built-in login exists.</summary>
    public bool HasUsers { get; }

    /// <summary>Bumped by every committed write to <c>_mkio_users</c>.</summary>
    public long UsersVersion => Interlocked.Read(ref _usersVersion);

    /// <summary>Raised (on a pool thread) after a committed write to either table.</summary>
    public event Action? Changed;

    IReadOnlyCollection<string>? IChangeListener.Tables => Watched;

    void IChangeListener.OnCommitted(IReadOnlyList<ChangeEvent> events)
    {
        var rights = false;
        var users = false;
        foreach (var e in events)
        {
            rights |= e.Table.Name == AccessControl.RightsTable;
            users |= e.Table.Name == AccessControl.UsersTable;
        }

        if (rights)
        {
            Interlocked.Increment(ref _rightsVersion);
        }

        if (users)
        {
            Interlocked.Increment(ref _usersVersion);
        }

        if ((rights || users) && Changed is { } changed)
        {
            ThreadPool.QueueUserWorkItem(static c => c(), changed, preferLocal: false);
        }
    }

    /// <summary>True when any of <paramref name="roles"/> holds <paramref name="right"/> in <c>_mkio_rights</c>.</summary>
    public bool Holds(IEnumerable<string> roles, string right)
    {
        var map = Rights();
        foreach (var role in roles)
        {
            if (map.TryGetValue(role, out var set) && set.Contains(right))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The rights of every role (reloaded when <c>_mkio_rights</c> changed since the last load).</summary>
    public FrozenDictionary<string, FrozenSet<string>> Rights()
    {
        var version = Interlocked.Read(ref _rightsVersion);
        if (version == Volatile.Read(ref _loadedRights) || !HasRights)
        {
            return _rights;
        }

        lock (_lock)
        {
            if (version != _loadedRights)
            {
                var rows = _reads().Query($"SELECT \"role\", \"right\" FROM {AccessControl.RightsTable}");
                _rights = rows
                    .Select(r => (Role: Text(r[0]), Right: Text(r[1])))
                    .Where(r => r.Role is not null && r.Right is not null)
                    .GroupBy(r => r.Role!, StringComparer.Ordinal)
                    .ToFrozenDictionary(g => g.Key, g => g.Select(r => r.Right!).ToFrozenSet(StringComparer.Ordinal), StringComparer.Ordinal);
                Volatile.Write(ref _loadedRights, version);
            }

            return _rights;
        }
    }

    /// <summary>The <c>_mkio_users</c> row of <paramref name="username"/> as name → value, or null.</summary>
    public Dictionary<string, object?>? FindUser(string username)
    {
        var rows = _reads().Query($"SELECT * FROM {AccessControl.UsersTable} WHERE \"username\" = $p1", username);
        if (rows.Count == 0)
        {
            return null;
        }

        var row = rows[0];
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (var i = 0; i < row.Count; i++)
        {
            values[row.Name(i)] = row[i];
        }

        return values;
    }

    /// <summary>
    /// The login of a users-table row: <c>user</c> (default: the user name), <c>role</c> (default empty) and every
    /// other column except <c>password</c> and mkio's own.
    /// </summary>
    public static MkioLogin LoginOf(string username, Dictionary<string, object?> row)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in row)
        {
            if (key is not ("password" or MkioSchema.RefColumn))
            {
                values[key] = value;
            }
        }

        var user = Text(row.GetValueOrDefault("user")) is { Length: > 0 } u ? u : username;
        return new MkioLogin(user, Text(row.GetValueOrDefault("role")) ?? string.Empty, values);
    }

    /// <summary>
    /// <paramref name="identity"/> as the users table has it now: unchanged unless it came from the table and the
    /// table changed since; a deleted user is no longer authenticated.
    /// </summary>
    public MkioIdentity Refresh(MkioIdentity identity)
    {
        if (identity.TableUser is not { } username || identity.UsersVersion == UsersVersion)
        {
            return identity;
        }

        var version = UsersVersion;
        return FindUser(username) is { } row
            ? MkioIdentity.FromLogin(LoginOf(username, row), identity.Authorizer, username, version)
            : new MkioIdentity(new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity()), identity.Authorizer);
    }

    private static string? Text(object? value) => value switch
    {
        null => null,
        string s => s,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };
}

/// <summary>The built-in login: <c>data.username</c> / <c>data.password</c> checked against <c>_mkio_users</c>.</summary>
internal sealed class UsersTableAuthenticator(AuthTables tables) : IMkioAuthenticator
{
    public const string MissingCredentials = "missing username or password";
    public const string InvalidCredentials = "invalid credentials";

    // Verified when the user does not exist, so an unknown name costs the same as a wrong password.
    private static readonly Lazy<string> DummyHash = new(() => MkioPasswords.Hash(Guid.NewGuid().ToString()));

    public ValueTask<MkioLogin> AuthenticateAsync(JsonElement data, CancellationToken cancellationToken)
    {
        var username = StringField(data, "username");
        var password = StringField(data, "password");
        if (string.IsNullOrEmpty(username) || string.IsNullOrEmpty(password))
        {
            throw new MkioAuthenticationException(MissingCredentials);
        }

        var row = tables.FindUser(username);
        var stored = row?.GetValueOrDefault("password") as string;
        var ok = MkioPasswords.Verify(password, row is null ? DummyHash.Value : stored);
        if (row is null || !ok)
        {
            throw new MkioAuthenticationException(InvalidCredentials);
        }

        return ValueTask.FromResult(AuthTables.LoginOf(username, row));
    }

    /// <summary>A string member of an object, or null.</summary>
    public static string? StringField(JsonElement data, string name) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
