using Mkio.Security;

namespace Mkio.Model;

/// <summary>Start-up validation of every <c>access</c> and <c>monitor_access</c> value (errors name the key).</summary>
internal sealed partial class ModelCompiler
{
    private void CheckAccess()
    {
        var o = _options;
        CheckAccessValue("access", o.Access);
        CheckAccessValue("monitor_access", o.MonitorAccess);
        foreach (var s in o.Services)
        {
            var path = $"services.{s.Name}";
            CheckAccessValue(path + ".access", s.Access);
            CheckAccessValue(path + ".monitor_access", s.MonitorAccess);
            foreach (var set in s.Ops)
            {
                CheckAccessValue(set.Name is null ? path + ".ops.access" : $"{path}.ops.{set.Name}.access", set.Access);
            }
        }
    }

    /// <summary>
    /// <c>_mkio_rights</c> (columns <c>role</c>, <c>right</c>) and <c>_mkio_users</c> (<c>username</c> primary key,
    /// <c>password</c>, <c>role</c>, any further columns) are the built-in auth tables; a missing column is an error.
    /// </summary>
    private bool IsAuthTable(MkioTableOptions t)
    {
        string[] required = t.Name switch
        {
            AccessControl.RightsTable => ["role", "right"],
            AccessControl.UsersTable => ["username", "password", "role"],
            _ => [],
        };
        if (required.Length == 0)
        {
            return false;
        }

        foreach (var column in required)
        {
            if (!t.Columns.ContainsKey(column))
            {
                Error($"tables.{t.Name}", $"the built-in table '{t.Name}' needs the column '{column}' (columns: {string.Join(", ", required)}).");
            }
        }

        if (t.Name == AccessControl.UsersTable && t.Columns.TryGetValue("username", out var definition)
            && !definition.Contains("PRIMARY KEY", StringComparison.OrdinalIgnoreCase))
        {
            Error($"tables.{t.Name}.columns.username", "the user name of '_mkio_users' must be its primary key (e.g. \"TEXT PRIMARY KEY\").");
        }

        return true;
    }

    /// <summary>
    /// An access value is <c>open</c>, <c>auth</c> or a policy / role name: not empty, no surrounding spaces, and
    /// not a case variant of <c>open</c> / <c>auth</c> (almost certainly a typo that would lock the service).
    /// </summary>
    private void CheckAccessValue(string path, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            Error(path, "must be \"open\", \"auth\" or a policy or role name, got an empty string.");
        }
        else if (value.Trim().Length != value.Length)
        {
            Error(path, $"must be \"open\", \"auth\" or a policy or role name, got '{value}' (leading or trailing spaces).");
        }
        else if (value != AccessControl.Open && value != AccessControl.Auth
                 && (string.Equals(value, AccessControl.Open, StringComparison.OrdinalIgnoreCase) || string.Equals(value, AccessControl.Auth, StringComparison.OrdinalIgnoreCase)))
        {
            Error(path, $"must be \"open\", \"auth\" or a policy or role name, got '{value}'; did you mean '{value.ToLowerInvariant()}'?");
        }
    }
}
