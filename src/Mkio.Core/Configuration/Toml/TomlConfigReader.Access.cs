using Tomlyn.Model;

namespace Mkio;

/// <summary>Access control keys: <c>access</c> and <c>monitor_access</c> at the top level, on services and on ops.</summary>
internal sealed partial class TomlConfigReader
{
    private void ReadRootAccess(Entry e) => ReadAccessPair(e, v => _options.Access = v, v => _options.MonitorAccess = v);

    private void ReadServiceAccess(Entry e, MkioServiceOptions service) =>
        ReadAccessPair(e, v => service.Access = v, v => service.MonitorAccess = v);

    /// <summary><c>access</c> or <c>monitor_access</c>: the value goes to the matching setter.</summary>
    private void ReadAccessPair(Entry e, Action<string> access, Action<string> monitorAccess)
    {
        if (TryAccess(e, out var value))
        {
            (e.Key == "access" ? access : monitorAccess)(value);
        }
    }

    /// <summary><c>access</c> on an op: the op set's access; every op of a set that gives one must give the same.</summary>
    private void ReadOpAccess(Entry e, MkioOpSetOptions set)
    {
        if (!TryAccess(e, out var value))
        {
            return;
        }

        if (set.Access is { } earlier && !string.Equals(earlier, value, StringComparison.Ordinal))
        {
            Error(e, $"access = '{value}' conflicts with access = '{earlier}' on an earlier op of the same op set; give one value");
            return;
        }

        set.Access = value;
    }

    /// <summary>A string access value; the table form (right → SQL pre-check) and other types are errors naming the key.</summary>
    private bool TryAccess(Entry e, out string value)
    {
        value = string.Empty;
        switch (e.Value)
        {
            case string s:
                value = s;
                return true;
            case TomlTable:
                Error(e, $"{e.Key} must be \"open\", \"auth\" or a policy or role name; the table form (right → SQL pre-check) is not supported yet");
                return false;
            default:
                Error(e, $"{e.Key} must be \"open\", \"auth\" or a policy or role name, got {Describe(e.Value)}");
                return false;
        }
    }
}
