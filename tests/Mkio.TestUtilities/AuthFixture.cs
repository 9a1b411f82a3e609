using Mkio.Security;

namespace Mkio.TestUtilities;

/// <summary>The mkio login for tests: <c>_mkio_users</c> and <c>_mkio_rights</c> seeded from CSV files in a temp folder.</summary>
public static class AuthFixture
{
    /// <summary>A bcrypt hash of <paramref name="password"/> at the lowest cost (fast tests; verifies like any other).</summary>
    public static string Hash(string password) => MkioPasswords.Hash(password, 4);

    /// <summary>
    /// Declares <c>_mkio_users</c> (username, password, role) and <c>_mkio_rights</c> (role, right), seeded with
    /// <paramref name="users"/> and <paramref name="rights"/> (files written to <paramref name="directory"/>; seeds load
    /// only when the tables are created).
    /// </summary>
    public static MkioOptions AuthTables(this MkioOptions o, TempDirectory directory, IEnumerable<(string User, string Password, string Role)> users, IEnumerable<(string Role, string Right)> rights)
    {
        var usersCsv = directory.File("users.csv");
        var rightsCsv = directory.File("rights.csv");
        File.WriteAllLines(usersCsv, ["username,password,role", .. users.Select(u => $"{u.User},{Hash(u.Password)},{u.Role}")]);
        File.WriteAllLines(rightsCsv, ["role,right", .. rights.Select(r => $"{r.Role},{r.Right}")]);
        o.Tables.Add(Table("_mkio_users", usersCsv, ("username", "TEXT PRIMARY KEY"), ("password", "TEXT NOT NULL"), ("role", "TEXT NOT NULL DEFAULT ''")));
        o.Tables.Add(Table("_mkio_rights", rightsCsv, ("role", "TEXT NOT NULL"), ("right", "TEXT NOT NULL")));
        return o;
    }

    private static MkioTableOptions Table(string name, string seed, params (string Name, string Definition)[] columns)
    {
        var table = new MkioTableOptions(name) { Seed = seed };
        foreach (var (column, definition) in columns)
        {
            table.Columns.Add(column, definition);
        }

        return table;
    }
}
