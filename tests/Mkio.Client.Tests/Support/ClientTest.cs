using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Mkio.TestUtilities;

namespace Mkio.Client.Tests.Support;

/// <summary>Configs and helpers shared by the client tests.</summary>
internal static class ClientTest
{
    public const string DbFile = "client.db";

    /// <summary>
    /// Fast reconnects for tests (the defaults are 100 ms … 30 s). Exact 0.1.0 unless <paramref name="protocol"/>
    /// says otherwise: most tests here pin the 0.1.0 wire; the later protocol has its own tests.
    /// </summary>
    public static MkioClientOptions Fast(bool clientRefs = false, bool reconnect = true, TimeSpan? requestTimeout = null, MkioProtocol protocol = MkioProtocol.V010) => new()
    {
        Protocol = protocol,
        BackoffBase = TimeSpan.FromMilliseconds(20),
        BackoffMax = TimeSpan.FromMilliseconds(250),
        ClientRefs = clientRefs,
        Reconnect = reconnect,
        RequestTimeout = requestTimeout,
    };

    /// <summary>Fixture A on the file database <see cref="DbFile"/>.</summary>
    public static void FixtureAOnFile(MkioOptions o)
    {
        Fixtures.FixtureA(o);
        o.DbPath = DbFile;
    }

    public static async Task<MkioClient> ConnectAsync(Uri url, CancellationToken ct, MkioClientOptions? options = null)
    {
        var client = new MkioClient(url, options ?? Fast());
        try
        {
            await client.ConnectAsync(ct);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    public static Uri Ws(this MkioTestHost host) => new(host.WsBase, "ws");

    public static JsonObject Order(string id, string symbol = "AAPL", int qty = 1) =>
        new() { ["id"] = id, ["symbol"] = symbol, ["qty"] = qty };

    /// <summary>The next event of a subscription (fails if the enumeration ends).</summary>
    public static async Task<T> NextAsync<T>(this IAsyncEnumerator<T> e)
    {
        Assert.That(await e.MoveNextAsync(), Is.True, "the subscription ended");
        return e.Current;
    }

    /// <summary>Rows of a snapshot / changes of a delta as (op, id, _mkio_ref) triples.</summary>
    public static IEnumerable<(string Op, string Id, string Ref)> ChangesOf(MkioEvent e) => e.Type switch
    {
        MkioEventType.Snapshot => e.Rows.EnumerateArray().Select(r => ("snapshot", Id(r), MkioRefOf(r))),
        MkioEventType.Delta => e.Changes.EnumerateArray().Select(c => (c.GetProperty("op").GetString()!, Id(c.GetProperty("row")), MkioRefOf(c.GetProperty("row")))),
        _ => [(e.Op!, Id(e.Row), MkioRefOf(e.Row))],
    };

    /// <summary>Applies events to a keyed state the way CLIENTS.md §5 describes.</summary>
    public static void Apply(Dictionary<string, JsonElement> state, MkioEvent e)
    {
        switch (e.Type)
        {
            case MkioEventType.Snapshot:
                state.Clear();
                foreach (var r in e.Rows.EnumerateArray())
                {
                    state[Id(r)] = r;
                }

                break;
            case MkioEventType.Delta:
                foreach (var c in e.Changes.EnumerateArray())
                {
                    Apply(state, c.GetProperty("op").GetString()!, c.GetProperty("row"));
                }

                break;
            default:
                Apply(state, e.Op!, e.Row);
                break;
        }
    }

    private static void Apply(Dictionary<string, JsonElement> state, string op, JsonElement row)
    {
        if (op == "delete")
        {
            state.Remove(Id(row));
        }
        else
        {
            state[Id(row)] = row;
        }
    }

    public static string Id(JsonElement row) => row.GetProperty("id").ToString();

    private static string MkioRefOf(JsonElement row) => row.TryGetProperty("_mkio_ref", out var r) ? r.GetString() ?? string.Empty : string.Empty;
}

/// <summary>A transaction's data for the typed send overload.</summary>
internal sealed record NewOrder(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("symbol")] string Symbol,
    [property: JsonPropertyName("qty")] int Qty);

/// <summary>An orders row for the typed subscription overload.</summary>
internal sealed record OrderRow(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("symbol")] string Symbol,
    [property: JsonPropertyName("qty")] long? Qty,
    [property: JsonPropertyName("price")] double Price,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("_mkio_ref")] string MkioRef);

/// <summary>An items row of the later test config (query row tags are not mapped).</summary>
internal sealed record ItemRow(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("qty")] long Qty);

[JsonSerializable(typeof(NewOrder))]
[JsonSerializable(typeof(ItemRow))]
[JsonSerializable(typeof(OrderRow))]
internal sealed partial class ClientTestJson : JsonSerializerContext;
