using Tomlyn.Model;

namespace Mkio;

/// <summary>Access control keys: <c>access</c> and <c>monitor_access</c> at the top level, on services and on ops.</summary>
internal sealed partial class TomlConfigReader
{
    private void ReadRootAccess(Entry e)
    {
        if (TryAccess(e, out var value))
        {
            if (e.Key == "access")
            {
                _options.Access = value;
            }
            else
            {
                _options.MonitorAccess = value;
            }
        }
    }

    private void ReadServiceAccess(Entry e, MkioServiceOptions service)
    {
        if (TryAccess(e, out var value))
        {
            if (e.Key == "access")
            {
                service.Access = value;
            }
            else
            {
                service.MonitorAccess = value;
            }
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
