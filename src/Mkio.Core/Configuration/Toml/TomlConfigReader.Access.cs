using Mkio.Security;
using Tomlyn.Model;

namespace Mkio;

/// <summary>Access control keys: <c>access</c> and <c>monitor_access</c> at the top level, on services and on ops.</summary>
internal sealed partial class TomlConfigReader
{
    private void ReadRootAccess(Entry e) =>
        ReadAccessPair(e, _options, v => _options.Access = v, v => _options.MonitorAccess = v);

    private void ReadServiceAccess(Entry e, MkioServiceOptions service) =>
        ReadAccessPair(e, service, v => service.Access = v, v => service.MonitorAccess = v);

    /// <summary><c>access</c> or <c>monitor_access</c>: a name goes to the matching setter, the table form to the options' access tables.</summary>
    private void ReadAccessPair(Entry e, object owner, Action<string> access, Action<string> monitorAccess)
    {
        var monitor = e.Key != "access";
        if (e.Value is TomlTable table)
        {
            if (TryAccessTable(e, table) is { } rule)
            {
                (monitor ? _options.MonitorAccessTables : _options.AccessTables)[owner] = rule;
            }
        }
        else if (TryAccess(e, out var value))
        {
            (monitor ? monitorAccess : access)(value);
        }
    }

    /// <summary><c>access</c> on an op: the op set's access; every op of a set that gives one must give the same.</summary>
    private void ReadOpAccess(Entry e, MkioOpSetOptions set)
    {
        if (e.Value is TomlTable table)
        {
            if (TryAccessTable(e, table) is not { } rule)
            {
                return;
            }

            if (set.Access is not null || _options.AccessTables.ContainsKey(set))
            {
                Error(e, "access is given on more than one op of the same op set; give it once");
                return;
            }

            _options.AccessTables[set] = rule;
            return;
        }

        if (!TryAccess(e, out var value))
        {
            return;
        }

        if (_options.AccessTables.ContainsKey(set))
        {
            Error(e, "access is given on more than one op of the same op set; give it once");
            return;
        }

        if (set.Access is { } earlier && !string.Equals(earlier, value, StringComparison.Ordinal))
        {
            Error(e, $"access = '{value}' conflicts with access = '{earlier}' on an earlier op of the same op set; give one value");
            return;
        }

        set.Access = value;
    }

    /// <summary>A string access value; other types are errors naming the key.</summary>
    private bool TryAccess(Entry e, out string value)
    {
        value = string.Empty;
        if (e.Value is string s)
        {
            value = s;
            return true;
        }

        Error(e, $"{e.Key} must be \"open\", \"auth\", a right (policy or role) name or a table of right = true | \"SQL check\", got {Describe(e.Value)}");
        return false;
    }

    /// <summary>The table form <c>{ right = true, other = "orders WHERE owner = :user" }</c> in document order.</summary>
    private AccessRule? TryAccessTable(Entry e, TomlTable table)
    {
        var rights = new List<AccessRight>();
        var ok = true;
        foreach (var right in Entries(table, e.Path))
        {
            switch (right.Value)
            {
                case true:
                    rights.Add(new AccessRight(right.Key, null, right.Path));
                    break;
                case string sql when !string.IsNullOrWhiteSpace(sql):
                    rights.Add(new AccessRight(right.Key, sql, right.Path));
                    break;
                default:
                    Error(right, $"{e.Key} right '{right.Key}' must be true or an SQL check (what follows SELECT 1 FROM), got {Describe(right.Value)}");
                    ok = false;
                    break;
            }
        }

        if (rights.Count == 0 && ok)
        {
            Error(e, $"{e.Key} must be \"open\", \"auth\", a right name or a non-empty table of right = true | \"SQL check\"");
            return null;
        }

        return ok ? AccessRule.Table(rights) : null;
    }
}
