using System.Security.Claims;
using Microsoft.Extensions.DependencyInjection;

namespace Mkio.AspNetCore.Tests.Security;

/// <summary><c>IMkio.AsUser</c>: server code writing on a user's behalf passes the same access checks as that user's connection.</summary>
public sealed class InProcessAsUserTests
{
    private const string Config = AuthMessageTests.Config + """

        [tables.notes]
        columns = { id = "TEXT PRIMARY KEY", text = "TEXT" }
        versioned = true

        [services.note]
        type = "transaction"
        table = "notes"
        op_type = "upsert"
        key = ["id"]
        fields = ["id", "text"]
        access = "trade"
        """;

    private static ClaimsPrincipal Principal(string? name, string? role = null)
    {
        if (name is null)
        {
            return new ClaimsPrincipal(new ClaimsIdentity());
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, name) };
        if (role is not null)
        {
            claims.Add(new Claim(ClaimTypes.Role, role));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, "test"));
    }

    [Test, CancelAfter(60_000)]
    public async Task AsUser_SameChecksAsTheUsersConnection_AndTheUserReachesTheHistory(CancellationToken ct)
    {
        await using var host = await AuthMessageTests.StartAsync(ct, config: Config);
        var mkio = host.Services.GetRequiredService<IMkio>();
        var alice = mkio.AsUser(new MkioLogin("alice", "trader", new Dictionary<string, object?> { ["desk"] = "A" }));
        var bob = mkio.AsUser(new MkioLogin("bob", "trader", new Dictionary<string, object?> { ["desk"] = "B" }));
        var eve = mkio.AsUser(new MkioLogin("eve", "viewer"));
        var anonymous = mkio.AsUser(Principal(null));

        Assert.That(await alice.ExecuteAsync("place", new Dictionary<string, object?> { ["id"] = "o1", ["owner"] = "alice", ["desk"] = "A", ["qty"] = 1 }, cancellationToken: ct), Has.Property("Ok").True);
        using (Assert.EnterMultipleScope())
        {
            Assert.That((await anonymous.ExecuteAsync("place", new Dictionary<string, object?> { ["id"] = "o2", ["qty"] = 1 }, cancellationToken: ct)).Error, Is.EqualTo("authentication required"));
            Assert.That((await eve.ExecuteAsync("amend", new Dictionary<string, object?> { ["id"] = "o1", ["qty"] = 2 }, cancellationToken: ct)).Error, Is.EqualTo("permission denied"), "no right");
            Assert.That((await bob.ExecuteAsync("amend", new Dictionary<string, object?> { ["id"] = "o1", ["qty"] = 2 }, cancellationToken: ct)).Error, Is.EqualTo("permission denied"), "SQL check: not bob's order");
            Assert.That((await bob.ExecuteAsync("desk_amend", new Dictionary<string, object?> { ["id"] = "o1", ["qty"] = 2, ["desk"] = "A" }, cancellationToken: ct)).Error, Is.EqualTo("permission denied"), "a data field cannot override :desk");
        }

        Assert.That((await alice.ExecuteAsync("amend", new Dictionary<string, object?> { ["id"] = "o1", ["qty"] = 3 }, cancellationToken: ct)).Ok, Is.True, "alice's own order");
        Assert.That((await mkio.ExecuteAsync("amend", new Dictionary<string, object?> { ["id"] = "o1", ["qty"] = 4 }, cancellationToken: ct)).Ok, Is.True, "the IMkio from DI has full rights");

        // A host principal (a role from the host's authentication) works the same; its name reaches the history.
        var carol = mkio.AsUser(Principal("carol", "trader"));
        Assert.That((await carol.ExecuteAsync("note", new Dictionary<string, object?> { ["id"] = "n1", ["text"] = "hi" }, cancellationToken: ct)).Ok, Is.True);
        Assert.That((await alice.ExecuteAsync("note", new Dictionary<string, object?> { ["id"] = "n1", ["text"] = "ho" }, cancellationToken: ct)).Ok, Is.True);
        Assert.That((await eve.ExecuteAsync("note", new Dictionary<string, object?> { ["id"] = "n1", ["text"] = "no" }, cancellationToken: ct)).Error, Is.EqualTo("permission denied"));
        var history = await mkio.HistoryAsync("notes", "n1", cancellationToken: ct);
        Assert.That(history.Select(r => r["_mkio_user"]), Is.EqualTo(new object?[] { "carol", "alice" }));
    }
}
