using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Mkio.Client.Tests.Support;
using Mkio.TestUtilities;
using static Mkio.Client.Tests.Support.ClientTest;

namespace Mkio.Client.Tests;

/// <summary>Construction, connecting, bad input and disposal.</summary>
[Parallelizable(ParallelScope.Children)]
public partial class MkioClientTests
{
    [TestCase("http://localhost:8080/ws")]
    [TestCase("https://localhost:8080/ws")]
    [TestCase("ftp://localhost/ws")]
    public void Constructor_SchemeNotWs_ThrowsArgumentExceptionNamingTheScheme(string url)
    {
        var ex = Assert.Throws<ArgumentException>(() => _ = new MkioClient(new Uri(url)));
        Assert.That(ex!.Message, Does.Contain(new Uri(url).Scheme).And.Contain("ws://"));
        Assert.That(ex.ParamName, Is.EqualTo("url"));
    }

    [Test]
    public void Constructor_BadArguments_Throw()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => new MkioClient(null!), Throws.ArgumentNullException);
            Assert.That(() => new MkioClient(new Uri("/ws", UriKind.Relative)), Throws.ArgumentException.With.Message.Contains("absolute"));
            Assert.That(() => new MkioClient(new Uri("ws://h/ws"), new MkioClientOptions { BackoffBase = TimeSpan.Zero }), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("BackoffBase"));
            Assert.That(() => new MkioClient(new Uri("ws://h/ws"), new MkioClientOptions { BackoffMax = TimeSpan.FromMilliseconds(1) }), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("BackoffMax"));
            Assert.That(() => new MkioClient(new Uri("ws://h/ws"), new MkioClientOptions { RequestTimeout = TimeSpan.FromSeconds(-5) }), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new MkioClient(new Uri("ws://h/ws"), new MkioClientOptions { ConnectTimeout = TimeSpan.Zero }), Throws.InstanceOf<ArgumentOutOfRangeException>());
        }
    }

    [Test]
    public async Task Options_Defaults_AreTheDocumentedOnes()
    {
        var o = new MkioClientOptions();
        await using var client = new MkioClient(new Uri("ws://localhost:8080/ws"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.Reconnect, Is.True);
            Assert.That(o.BackoffBase, Is.EqualTo(TimeSpan.FromMilliseconds(100)));
            Assert.That(o.BackoffMax, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(o.RequestTimeout, Is.Null);
            Assert.That(o.ConnectTimeout, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(o.ClientRefs, Is.False);
            Assert.That(client.State, Is.EqualTo(MkioConnectionState.Closed));
            Assert.That(client.Url, Is.EqualTo(new Uri("ws://localhost:8080/ws")));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ConnectAsync_NothingListening_ThrowsMkioConnectionExceptionAndCanRetry(CancellationToken ct)
    {
        var port = ClientTestHost.FreePort();
        await using var client = new MkioClient(new Uri($"ws://127.0.0.1:{port}/ws"), Fast());

        var ex = Assert.ThrowsAsync<MkioConnectionException>(() => client.ConnectAsync(ct));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Message, Does.Contain($"127.0.0.1:{port}"));
            Assert.That(ex.InnerException, Is.Not.Null);
            Assert.That(client.State, Is.EqualTo(MkioConnectionState.Closed));
            Assert.That(() => client.SendAsync("add_order", Order("1"), cancellationToken: ct), Throws.InvalidOperationException.With.Message.Contains("ConnectAsync"));
        }

        // A failed connect leaves the client usable: connect again once the server is there.
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, port, ct);
        await client.ConnectAsync(ct);
        Assert.That(client.State, Is.EqualTo(MkioConnectionState.Open));
        Assert.That(MkioRef.IsWellFormed((await client.SendAsync("add_order", Order("1"), cancellationToken: ct)).Ref), Is.True);
    }

    [Test, CancelAfter(30_000)]
    public async Task ConnectAsync_ServerNeverAnswersTheUpgrade_TimesOutWithMkioConnectionException(CancellationToken ct)
    {
        // The kernel completes the TCP handshake; nobody ever reads the HTTP upgrade request.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            await using var client = new MkioClient(new Uri($"ws://127.0.0.1:{port}/ws"), new MkioClientOptions { ConnectTimeout = TimeSpan.FromMilliseconds(300) });
            var ex = Assert.ThrowsAsync<MkioConnectionException>(() => client.ConnectAsync(ct));
            Assert.That(ex!.InnerException, Is.InstanceOf<TimeoutException>());
            Assert.That(ex.Message, Does.Contain("connect timeout of 0.3 s"));
        }
        finally
        {
            listener.Stop();
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ConnectAsync_NotAWebSocketEndpoint_ThrowsMkioConnectionException(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = new MkioClient(new Uri(host.WsBase, "api/services"), Fast());
        var ex = Assert.ThrowsAsync<MkioConnectionException>(() => client.ConnectAsync(ct));
        Assert.That(ex!.Message, Does.Contain("101"));
    }

    [Test, CancelAfter(30_000)]
    public async Task ConnectAsync_Twice_ThrowsInvalidOperation_AndRaisesConnectedOnce(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = new MkioClient(host.Ws(), Fast());
        var connected = 0;
        client.Connected += (_, _) => connected++;
        await client.ConnectAsync(ct);
        Assert.That(() => client.ConnectAsync(ct), Throws.InvalidOperationException);
        Assert.That(connected, Is.EqualTo(1));
    }

    [Test, CancelAfter(30_000)]
    public async Task Requests_BeforeConnectAsync_ThrowInvalidOperation(CancellationToken ct)
    {
        await using var client = new MkioClient(new Uri("ws://127.0.0.1:1/ws"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => client.SendAsync("s", Order("1"), cancellationToken: ct), Throws.InvalidOperationException);
            Assert.That(() => client.CheckAsync("s", "r", ct), Throws.InvalidOperationException);
            Assert.That(async () => await client.SubscribeAsync("s", cancellationToken: ct).GetAsyncEnumerator(ct).MoveNextAsync(), Throws.InvalidOperationException);
            Assert.That(() => client.SubscribeAsync("", cancellationToken: ct), Throws.ArgumentException);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task DisposeAsync_PendingRequestAndSubscription_CompleteWithObjectDisposed(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        using var hold = await host.HoldWriterAsync(ct);
        var client = await ConnectAsync(host.WsUrl, ct);
        var disconnected = 0;
        client.Disconnected += (_, _) => disconnected++;
        var sub = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        await sub.NextAsync();
        var pending = client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        var next = sub.MoveNextAsync().AsTask();

        await client.DisposeAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(async () => await pending, Throws.InstanceOf<ObjectDisposedException>());
            Assert.That(async () => await next, Throws.InstanceOf<ObjectDisposedException>());
            Assert.That(client.State, Is.EqualTo(MkioConnectionState.Closed));
            Assert.That(() => client.SendAsync("add_order", Order("2"), cancellationToken: ct), Throws.InstanceOf<ObjectDisposedException>());
            Assert.That(() => client.ConnectAsync(ct), Throws.InstanceOf<ObjectDisposedException>());
            Assert.That(disconnected, Is.Zero, "disposal is not a lost connection");
        }

        await client.DisposeAsync();
        await sub.DisposeAsync();
    }

    [Test, CancelAfter(30_000)]
    public async Task DisposeAsync_WhileReconnecting_StopsAndFailsWaitingRequests(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        var client = await ConnectAsync(host.WsUrl, ct);
        var disconnects = Channel.CreateUnbounded<bool>();
        client.Disconnected += (_, _) => disconnects.Writer.TryWrite(true);
        await host.DisposeAsync();
        await disconnects.Reader.ReadAsync(ct);

        var waiting = client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        await client.DisposeAsync();

        Assert.That(async () => await waiting, Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(client.State, Is.EqualTo(MkioConnectionState.Closed));
    }
}
