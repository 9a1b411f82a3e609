using Mkio.Security;
using Mkio.Storage.Postgres;
using Npgsql;

namespace Mkio;

/// <summary>The engine's access rules, built-in rights and users tables, and login settings.</summary>
internal sealed partial class MkioEngine
{
    private AccessControl? _access;
    private AuthTables? _authTables;
    private LoginGuard? _logins;

    /// <summary>The access rules of the model (built on first use; immutable).</summary>
    public AccessControl Access => Volatile.Read(ref _access) ?? CreateAccess();

    /// <summary>The built-in <c>_mkio_rights</c> / <c>_mkio_users</c> tables (empty when not configured).</summary>
    public AuthTables AuthTables => LazyInitializer.EnsureInitialized(ref _authTables, () => new AuthTables(Model.Options, () => Reads));

    /// <summary>Rate limits of failed logins.</summary>
    public LoginGuard Logins => LazyInitializer.EnsureInitialized(ref _logins, () => new LoginGuard(Model.Options));

    /// <summary>The host's login provider for the <c>auth</c> message (DI), or null: the users table when configured.</summary>
    public IMkioAuthenticator? Authenticator { get; set; }

    /// <summary>The provider an <c>auth</c> message uses: the host's, else the built-in users table, else none.</summary>
    public IMkioAuthenticator? LoginProvider =>
        Authenticator ?? (AuthTables.HasUsers ? LazyInitializer.EnsureInitialized(ref _builtInLogin, () => new UsersTableAuthenticator(AuthTables)) : null);

    private UsersTableAuthenticator? _builtInLogin;

    /// <summary>Builds <see cref="Access"/> once (kept out of the getter: its lambda would be allocated on every message).</summary>
    private AccessControl CreateAccess() => LazyInitializer.EnsureInitialized(ref _access, () => new AccessControl(Model.Options, AuthTables));

    /// <summary>
    /// After the database is open: compiles every SQL access check against the real schema (errors name the config
    /// key) and watches the rights and users tables, re-checking live subscriptions when they change.
    /// </summary>
    private void StartAccess()
    {
        var errors = new List<string>();
        foreach (var check in AccessControl.ChecksOf(Model.Options))
        {
            var sql = PreCheck.StatementFor(check.Check!);
            if (PreCheck.Validate(Database.Writer.Handle!, sql) is { } error)
            {
                var at = Model.Options.Locations.Find(check.Path) is { } location ? $" ({location})" : string.Empty;
                errors.Add($"{check.Path}{at}: SQL check of right '{check.Right}' does not compile: {error} (in: {sql})");
            }
        }

        WatchAccessTables(errors);
    }

    /// <summary>
    /// On PostgreSQL: compiles every SQL access check on the server (errors name the config key) and watches the rights
    /// and users tables through the journal tail, which delivers the writes of every node.
    /// </summary>
    private async Task StartPostgresAccessAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        foreach (var check in AccessControl.ChecksOf(Model.Options))
        {
            var sql = PreCheck.StatementFor(check.Check!);
            if (await PostgresAccess.ValidateAsync(connection, sql, cancellationToken).ConfigureAwait(false) is { } error)
            {
                var at = Model.Options.Locations.Find(check.Path) is { } location ? $" ({location})" : string.Empty;
                errors.Add($"{check.Path}{at}: SQL check of right '{check.Right}' does not compile on PostgreSQL: {error} (in: {sql})");
            }
        }

        WatchAccessTables(errors);
    }

    /// <summary>Runs an SQL access check outside a write (subscribe, request, monitor) on the configured store.</summary>
    public async ValueTask<bool> AccessCheckPassesAsync(PreCheck check, CancellationToken cancellationToken = default) =>
        _pgSource is not null
            ? await PostgresAccess.PassesAsync(_pgSource, check, cancellationToken).ConfigureAwait(false)
            : await Database.ReadAsync(c => check.Passes(c.Handle!), cancellationToken).ConfigureAwait(false);

    private void WatchAccessTables(List<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new MkioConfigurationException(string.Join(Environment.NewLine, errors));
        }

        if (Access.Enabled && (AuthTables.HasRights || AuthTables.HasUsers))
        {
            Bus.Subscribe(AuthTables);
            AuthTables.Changed += RecheckSubscriptions;
        }
    }

    /// <summary>Rights or users changed: every logged-in connection re-checks its subscriptions (revoked ones end).</summary>
    private void RecheckSubscriptions()
    {
        foreach (var session in _sessions.Values)
        {
            _ = session.RecheckSubscriptionsAsync();
        }
    }
}
