namespace Mkio.Security;

/// <summary>
/// One configured <c>access</c> / <c>monitor_access</c> value: a name (<c>open</c>, <c>auth</c>, a right, policy or role)
/// or the table form — rights in config order, each granting outright (<c>true</c>) or through an SQL check.
/// </summary>
internal sealed class AccessRule
{
    private AccessRule(string? name, IReadOnlyList<AccessRight>? rights)
    {
        Name = name;
        Rights = rights;
    }

    /// <summary>The name form, or null for the table form.</summary>
    public string? Name { get; }

    /// <summary>The table form: the first right the caller holds decides.</summary>
    public IReadOnlyList<AccessRight>? Rights { get; }

    public static AccessRule? Of(string? name) => name is null ? null : new(name, null);

    public static AccessRule Table(IReadOnlyList<AccessRight> rights) => new(null, rights);
}

/// <summary>A right of the table form and what it grants: everything (<see cref="Check"/> null) or what its SQL check finds.</summary>
/// <param name="Right">The right name.</param>
/// <param name="Check">The SQL after <c>SELECT 1 FROM</c>, or null for <c>true</c>.</param>
/// <param name="Path">The config key (for start-up errors).</param>
internal sealed record AccessRight(string Right, string? Check, string Path);

/// <summary>The outcome of an access check: refused with a text, allowed, or allowed if an SQL check passes.</summary>
internal readonly record struct AccessDecision(string? Refusal, string? CheckSql)
{
    public static AccessDecision Allowed => default;

    public bool IsAllowed => Refusal is null && CheckSql is null;

    public static AccessDecision Refuse(string text) => new(text, null);
}
