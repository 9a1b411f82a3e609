using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Mkio.Client.Tests.Support;
using Mkio.TestUtilities;
using static Mkio.Client.Tests.Support.ClientTest;

namespace Mkio.Client.Tests;

/// <summary>Dependency injection (<c>AddMkioClient</c>, named clients), the builder and the typed op, against a real server.</summary>
public partial class MkioClientTests
{
    [Test, CancelAfter(30_000)]
    public async Task AddMkioClient_Default_ResolvesAClientThatConnectsAndLogsThroughTheContainer(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        var categories = new CategoryRecorder();
        var services = new ServiceCollection()
            .AddLogging(l => l.AddProvider(categories))
            .AddMkioClient(o => o.Url = host.Ws());
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<MkioClient>();
        Assert.That(provider.GetRequiredService<MkioClient>(), Is.SameAs(client), "the default client is a singleton");
        await client.ConnectAsync(ct);
        var result = await client.SendAsync("add_order", Order("1"), cancellationToken: ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(client.Url, Is.EqualTo(host.Ws()));
            Assert.That(result.IsKnown, Is.True);
            Assert.That(categories.Names, Does.Contain("Mkio.Client.MkioClient"));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task AddMkioClient_Named_FactoryCreatesEachWithItsOwnSettings(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        var services = new ServiceCollection()
            .AddMkioClient("plain", o => o.Url = host.Ws())
            .AddMkioClient("refs", o =>
            {
                o.Url = host.Ws();
                o.ClientRefs = true;
            });
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IMkioClientFactory>();

        await using var plain = factory.CreateClient("plain");
        await using var refs = factory.CreateClient("refs");
        await plain.ConnectAsync(ct);
        await refs.ConnectAsync(ct);
        var a = await plain.SendAsync("add_order", Order("1"), cancellationToken: ct);
        var b = await refs.SendAsync("add_order", Order("2"), cancellationToken: ct);
        var missing = Assert.Throws<InvalidOperationException>(() => factory.CreateClient("nope"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(factory.CreateClient("plain"), Is.Not.SameAs(plain), "each call creates a new client");
            Assert.That(MkioRef.IsWellFormed(a.Ref), Is.True);
            Assert.That(MkioRef.IsWellFormed(b.Ref), Is.True);
            Assert.That(provider.GetService<MkioClient>(), Is.Null, "named registrations add no default client");
            Assert.That(missing!.Message, Does.Contain("'nope'").And.Contain("AddMkioClient(\"nope\""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Builder_BuildsAClient_EventsCarryTheOperationEnum(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = new MkioClientBuilder()
            .WithUrl(host.Ws().ToString())
            .WithAutomaticReconnect(false)
            .Configure(o => o.RequestTimeout = TimeSpan.FromSeconds(20))
            .Build();
        await client.ConnectAsync(ct);

        await using var sub = client.SubscribeAsync("last_trade", cancellationToken: ct).GetAsyncEnumerator(ct);
        var snapshot = await sub.NextAsync();
        await client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        var insert = await sub.NextAsync();
        await client.SendAsync("update_order", new JsonObject { ["id"] = "1", ["qty"] = 3 }, cancellationToken: ct);
        var update = await sub.NextAsync();
        await client.SendAsync("delete_order", new JsonObject { ["id"] = "1" }, cancellationToken: ct);
        var delete = await sub.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(snapshot.Operation, Is.EqualTo(MkioOperation.None));
            Assert.That((insert.Op, insert.Operation), Is.EqualTo(("insert", MkioOperation.Insert)));
            Assert.That((update.Op, update.Operation), Is.EqualTo(("update", MkioOperation.Update)));
            Assert.That((delete.Op, delete.Operation), Is.EqualTo(("delete", MkioOperation.Delete)));
        }
    }

    [Test]
    public void Builder_WithoutUrl_FailsNamingWithUrl() =>
        Assert.That(() => new MkioClientBuilder().Build(), Throws.InvalidOperationException.With.Message.Contains("WithUrl"));

    private sealed class CategoryRecorder : ILoggerProvider
    {
        private readonly ConcurrentBag<string> _names = [];

        public IReadOnlyCollection<string> Names => [.. _names];

        public ILogger CreateLogger(string categoryName)
        {
            _names.Add(categoryName);
            return Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        }

        public void Dispose()
        {
        }
    }
}
