using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Threading.Channels;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mkio.Client.Tests.Support;
using Mkio.TestUtilities;
using static Mkio.Client.Tests.Support.ClientTest;

namespace Mkio.Client.Tests;

/// <summary>Logging in: the mkio <c>auth</c> message on every (re)connect before resubscribing, and bearer tokens on the upgrade.</summary>
public partial class MkioClientTests
{
    /// <summary>Fixture A on a file with the mkio login: alice (trader: rights trade, view) and eve (viewer: no rights).</summary>
    private static Action<MkioOptions> Secured(TempDirectory dir) => o =>
    {
        FixtureAOnFile(o);
        o.AuthTables(dir, [("alice", "alice-pw", "trader"), ("eve", "eve-pw", "viewer")], [("trader", "trade"), ("trader", "view")]);
        foreach (var s in o.Services)
        {
            s.Access = s.Name == "all_orders" ? "view" : "trade";
        }
    };

    private static MkioClientOptions As(string user, string password)
    {
        var o = Fast();
        o.UserName = user;
        o.Password = password;
        return o;
    }

    private static void Sql(TempDirectory dir, string sql)
    {
        using var db = new SqliteConnection($"Data Source={dir.File(DbFile)};Pooling=False");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        Assert.That(cmd.ExecuteNonQuery(), Is.EqualTo(1), sql);
    }

    [Test, CancelAfter(120_000)]
    public async Task Login_ServerRestart_LogsInAgainBeforeResubscribing([Values] bool viewRevokedWhileDown, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var port = ClientTestHost.FreePort();
        var host1 = await ClientTestHost.StartAsync(Secured(dir), dir, port, ct);
        await using var client = new MkioClient(new Uri($"ws://127.0.0.1:{port}/ws"), As("alice", "alice-pw"));
        var disconnects = Channel.CreateUnbounded<MkioDisconnectedEventArgs>();
        var connects = Channel.CreateUnbounded<string?>();
        client.Disconnected += (_, e) => disconnects.Writer.TryWrite(e);
        client.Connected += (_, _) => connects.Writer.TryWrite(client.User);
        await client.ConnectAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(client.User, Is.EqualTo("alice"));
            Assert.That(client.Role, Is.EqualTo("trader"));
            Assert.That(await connects.Reader.ReadAsync(ct), Is.EqualTo("alice"));
        }

        var r1 = await client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        await using var sub = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        Assert.That(ChangesOf(await sub.NextAsync()), Is.EqualTo(new[] { ("snapshot", "1", r1.Ref) }));

        await host1.DisposeAsync();
        Assert.That((await disconnects.Reader.ReadAsync(ct)).WillReconnect, Is.True);
        if (viewRevokedWhileDown)
        {
            Sql(dir, "DELETE FROM _mkio_rights WHERE role = 'trader' AND right = 'view'");
        }

        await using var host2 = await ClientTestHost.StartAsync(Secured(dir), dir, port, ct);
        Assert.That(await connects.Reader.ReadAsync(ct), Is.EqualTo("alice"), "logged in again before Connected");
        if (viewRevokedWhileDown)
        {
            // Logged in before resubscribing: refused as alice ("permission denied"), not as an anonymous connection.
            var refused = Assert.ThrowsAsync<MkioSubscriptionRejectedException>(async () => await sub.MoveNextAsync());
            Assert.That(refused!.Message, Is.EqualTo("permission denied"));
        }
        else
        {
            var resumed = await sub.NextAsync();
            Assert.That(resumed.Type, Is.EqualTo(MkioEventType.Delta), "resumed as alice, not refused as anonymous");
        }

        var r2 = await client.SendAsync("add_order", Order("2"), cancellationToken: ct);
        if (!viewRevokedWhileDown)
        {
            Assert.That(ChangesOf(await sub.NextAsync()), Is.EqualTo(new[] { ("insert", "2", r2.Ref) }));
        }

        Assert.That(host2.Upgrades, Is.EqualTo(1));
    }

    [Test, CancelAfter(60_000)]
    public async Task Login_WrongPasswordOrNoRights_ConnectAsyncThrowsOrServiceRefuses(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Secured(dir), dir, cancellationToken: ct);
        await using var wrong = new MkioClient(host.WsUrl, As("alice", "nope"));
        var ex = Assert.ThrowsAsync<MkioLoginRefusedException>(async () => await wrong.ConnectAsync(ct));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Message, Is.EqualTo("invalid credentials"));
            Assert.That(ex.Message, Does.Not.Contain("nope"), "the password is never in a message");
            Assert.That(wrong.State, Is.EqualTo(MkioConnectionState.Closed));
            Assert.That(wrong.User, Is.Null);
        }

        await using var eve = await ConnectAsync(host.WsUrl, ct, As("eve", "eve-pw"));
        Assert.That(eve.User, Is.EqualTo("eve"));
        var denied = Assert.ThrowsAsync<MkioServerException>(async () => await eve.SendAsync("add_order", Order("1"), cancellationToken: ct));
        Assert.That(denied!.Message, Is.EqualTo("permission denied"));

        await using var anonymous = await ConnectAsync(host.WsUrl, ct);
        var required = Assert.ThrowsAsync<MkioServerException>(async () => await anonymous.SendAsync("add_order", Order("1"), cancellationToken: ct));
        Assert.That(required!.Message, Is.EqualTo("authentication required"));

        Assert.Throws<ArgumentException>(() => _ = new MkioClient(host.WsUrl, new MkioClientOptions { UserName = "alice" }));
    }

    [Test, CancelAfter(120_000)]
    public async Task Login_RefusedOnReconnect_StopsWithoutRetryingAndEndsEverything(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var port = ClientTestHost.FreePort();
        var host1 = await ClientTestHost.StartAsync(Secured(dir), dir, port, ct);
        await using var client = new MkioClient(new Uri($"ws://127.0.0.1:{port}/ws"), As("alice", "alice-pw"));
        await client.ConnectAsync(ct);
        await using var sub = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        await sub.NextAsync();

        await host1.DisposeAsync();
        Sql(dir, $"UPDATE _mkio_users SET password = '{AuthFixture.Hash("changed")}' WHERE username = 'alice'");
        await using var host2 = await ClientTestHost.StartAsync(Secured(dir), dir, port, ct);

        var ended = Assert.ThrowsAsync<MkioLoginRefusedException>(async () => await sub.MoveNextAsync());
        Assert.That(ended!.Message, Is.EqualTo("invalid credentials"));
        var send = Assert.ThrowsAsync<MkioLoginRefusedException>(async () => await client.SendAsync("add_order", Order("1"), cancellationToken: ct));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(send!.Message, Is.EqualTo(ended.Message));
            Assert.That(client.State, Is.EqualTo(MkioConnectionState.Closed));
            Assert.That(host2.Upgrades, Is.EqualTo(1), "one refused login, no retry loop");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task AccessTokenProvider_BearerHeaderOnEveryUpgrade_RefusedUpgradeThrows(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        void Configure(MkioOptions o)
        {
            FixtureAOnFile(o);
            o.Services.Single(s => s.Name == "add_order").Access = "trader";
            o.Services.Single(s => s.Name == "all_orders").Access = "auth";
        }

        await using var host = await ClientTestHost.StartAsync(Configure, dir, cancellationToken: ct, builder: BearerScheme, map: app =>
        {
            app.UseAuthentication();
            app.MapMkio();
        });
        var calls = 0;
        var options = Fast();
        options.AccessTokenProvider = _ => ValueTask.FromResult<string?>($"carol:trader:{Interlocked.Increment(ref calls)}");
        await using var carol = await ConnectAsync(new Uri(host.WsUrl + "?tag=carol"), ct, options);
        var reconnected = Channel.CreateUnbounded<bool>();
        carol.Connected += (_, _) => reconnected.Writer.TryWrite(true);
        var r1 = await carol.SendAsync("add_order", Order("1"), cancellationToken: ct);
        await using var sub = carol.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        Assert.That(ChangesOf(await sub.NextAsync()), Is.EqualTo(new[] { ("snapshot", "1", r1.Ref) }));

        Assert.That(host.AbortConnections("carol"), Is.EqualTo(1));
        await reconnected.Reader.ReadAsync(ct);
        Assert.That((await sub.NextAsync()).Type, Is.EqualTo(MkioEventType.Delta), "resumed with the renewed token");
        Assert.That(Volatile.Read(ref calls), Is.EqualTo(2), "a token per upgrade");

        await using var anonymous = await ConnectAsync(host.WsUrl, ct);
        var required = Assert.ThrowsAsync<MkioServerException>(async () => await anonymous.SendAsync("add_order", Order("2"), cancellationToken: ct));
        Assert.That(required!.Message, Is.EqualTo("authentication required"));

        // A host that authorizes the endpoint itself refuses the upgrade: a clear exception, not a retry loop.
        using var dir2 = new TempDirectory();
        await using var locked = await ClientTestHost.StartAsync(Configure, dir2, cancellationToken: ct, builder: BearerScheme, map: app =>
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapMkio().RequireAuthorization();
        });
        await using var noToken = new MkioClient(locked.WsUrl, Fast());
        var refused = Assert.ThrowsAsync<MkioLoginRefusedException>(async () => await noToken.ConnectAsync(ct));
        Assert.That(refused!.Message, Does.Contain("401"));
        await using var withToken = await ConnectAsync(locked.WsUrl, ct, options);
        await withToken.SendAsync("add_order", Order("3"), cancellationToken: ct);
    }

    private static void BearerScheme(WebApplicationBuilder b)
    {
        b.Services.AddAuthentication(BearerHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, BearerHandler>(BearerHandler.SchemeName, null);
        b.Services.AddAuthorization();
    }

    /// <summary>A test scheme: <c>Authorization: Bearer user:role[:anything]</c>.</summary>
    private sealed class BearerHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "test-bearer";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            string? header = Request.Headers.Authorization;
            if (header is null || !header.StartsWith("Bearer ", StringComparison.Ordinal))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var parts = header["Bearer ".Length..].Split(':');
            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, parts[0]), new Claim(ClaimTypes.Role, parts.ElementAtOrDefault(1) ?? string.Empty)], SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }
}
