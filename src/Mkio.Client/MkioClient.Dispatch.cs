using System.Text.Json;

namespace Mkio.Client;

public sealed partial class MkioClient
{
    /// <summary>Routes one received message (CLIENTS.md §5 correlation rules).</summary>
    private void Dispatch(Connection conn, ReadOnlySpan<byte> utf8)
    {
        var root = Parse(utf8);
        var type = GetString(root, "type");
        switch (type)
        {
            case "result":
            case "reply":
            case "error":
                OnReply(conn, root, type == "error");
                break;
            case "snapshot":
            case "delta":
            case "update":
            case "nack":
                OnSubscriptionMessage(conn, root, type);
                break;
            default:
                Log.MessageIgnored(_logger, type ?? "(none)");
                break;
        }
    }

    private static JsonElement Parse(ReadOnlySpan<byte> utf8)
    {
        JsonElement root;
        try
        {
            root = ParseValue(utf8);
        }
        catch (JsonException ex)
        {
            // The server writes non-finite floats as bare NaN/Infinity tokens (PROTOCOL.md §2).
            var rewritten = NonFiniteTokens.Quote(utf8);
            if (rewritten is null)
            {
                throw new MkioProtocolException($"The server sent a frame that is not JSON: {ex.Message}", ex);
            }

            try
            {
                root = ParseValue(rewritten);
            }
            catch (JsonException)
            {
                throw new MkioProtocolException($"The server sent a frame that is not JSON: {ex.Message}", ex);
            }
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new MkioProtocolException($"The server sent a JSON {root.ValueKind} where a message object was expected.");
        }

        return root;
    }

    private static JsonElement ParseValue(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 256 });
        var value = JsonElement.ParseValue(ref reader);
        if (reader.Read())
        {
            throw new JsonException("Unexpected content after the message object.");
        }

        return value;
    }

    /// <summary>
    /// A <c>result</c> or <c>error</c>: resolves the pending request with its ref, else the oldest
    /// ref-less entry of this connection (subscribe markers included, see <see cref="SubscribeMarker"/>).
    /// </summary>
    private void OnReply(Connection conn, JsonElement root, bool isError)
    {
        PendingRequest? resolved = null;
        lock (_lock)
        {
            if (conn.Lost)
            {
                return;
            }

            var @ref = GetString(root, "ref");
            if (!string.IsNullOrEmpty(@ref) && conn.TryTakeByRef(@ref, out var byRef))
            {
                resolved = byRef;
                RejectSilentMarkers(conn, byRef.Seq);
            }
            else
            {
                while (conn.Fifo.First is { } node)
                {
                    conn.Fifo.RemoveFirst();
                    if (node.Value is PendingRequest p)
                    {
                        resolved = p;
                        break;
                    }

                    var marker = (SubscribeMarker)node.Value;
                    var message = GetString(root, "message") ?? string.Empty;
                    if (isError && (IsDispatcherError(message) || marker.Subscription.Later is not null))
                    {
                        // "Unknown service: x" answers the subscribe itself; a later subscribe is always
                        // answered, so an error in its place (e.g. a subpub subscribe without topic) is its reply.
                        OnMarkerConsumed(conn, marker);
                        Reject(marker.Subscription, message, root);
                        return;
                    }

                    RejectSilent(conn, marker);
                }
            }
        }

        if (resolved is null)
        {
            Log.ReplyDropped(_logger, isError ? "error" : "result", GetString(root, "ref") ?? string.Empty);
            return;
        }

        resolved.Complete(root);
    }

    private static bool IsDispatcherError(string message) =>
        message.StartsWith("Unknown service", StringComparison.Ordinal) || message == "Missing 'service' field";

    /// <summary>
    /// Replies come back in request order (PROTOCOL.md §10), so subscribe markers older than a
    /// request that has been answered got no reply at all: the service does not accept subscriptions.
    /// </summary>
    private void RejectSilentMarkers(Connection conn, long answeredSeq)
    {
        while (conn.Fifo.First is { Value: SubscribeMarker marker } && marker.Seq < answeredSeq)
        {
            conn.Fifo.RemoveFirst();
            RejectSilent(conn, marker);
        }
    }

    private void RejectSilent(Connection conn, SubscribeMarker marker)
    {
        OnMarkerConsumed(conn, marker);
        var service = marker.Subscription.Service;
        Reject(marker.Subscription, $"Service '{service}' did not answer the subscribe with a snapshot or delta: it is not a subpub, stream or query service.", null);
    }

    private static void OnMarkerConsumed(Connection conn, SubscribeMarker marker)
    {
        if (ReferenceEquals(marker.Subscription.SentOn, conn))
        {
            marker.Subscription.AwaitingInitial = false;
        }
    }

    /// <summary>Ends <paramref name="sub"/> with a rejection if it is still the service's subscription. Under <see cref="_lock"/>.</summary>
    private void Reject(Subscription sub, string message, JsonElement? reply)
    {
        if (!IsCurrent(sub))
        {
            return;
        }

        _subscriptions.Remove(sub.Key);
        Log.SubscriptionRejected(_logger, sub.Service, message);
        sub.Complete(new MkioSubscriptionRejectedException(message, sub.Service, reply));
    }

    /// <summary>
    /// snapshot/delta/nack answer the oldest subscribe for their subscription on this connection;
    /// updates (and later snapshot pages) go to the subscription once its first answer has arrived.
    /// A later subscription is found by the message's <c>subid</c>, a 0.1.0 one by its service. A nack
    /// that matches no subscription answers a request (e.g. a later request to an unknown service).
    /// </summary>
    private void OnSubscriptionMessage(Connection conn, JsonElement root, string type)
    {
        var service = GetString(root, "service");
        if (string.IsNullOrEmpty(service))
        {
            Log.MessageIgnored(_logger, type);
            return;
        }

        var key = GetString(root, "subid") ?? service;
        lock (_lock)
        {
            if (conn.Lost || RouteLocked(conn, root, type, service, key))
            {
                return;
            }
        }

        // A nack about no subscription: the reply to a request.
        OnReply(conn, root, isError: true);
    }

    /// <summary>Delivers a subscription message under <see cref="_lock"/>; false for a nack that concerns no subscription.</summary>
    private bool RouteLocked(Connection conn, JsonElement root, string type, string service, string key)
    {
        _subscriptions.TryGetValue(key, out var current);
        if (type == "nack" && current is null && conn.FindMarker(key) is null)
        {
            return false;
        }

        Subscription? target = null;
        var marker = type == "update" ? null : conn.TakeMarker(key);
        if (marker is not null)
        {
            OnMarkerConsumed(conn, marker);

            // A reply to a subscribe that was replaced since belongs to nobody.
            target = ReferenceEquals(marker.Subscription, current) ? current : null;
        }
        else if (current is { AwaitingInitial: false } && ReferenceEquals(current.SentOn, conn))
        {
            target = current;
        }

        if (target is null)
        {
            Log.SubscriptionMessageDropped(_logger, type, service);
            return true;
        }

        if (type == "nack")
        {
            Reject(target, GetString(root, "message") ?? "The server rejected the subscription.", root);
            return true;
        }

        var kind = type switch
        {
            // A later snapshot that answers no subscribe is the reply to a getmore.
            "snapshot" => marker is null && target.Later is not null ? MkioEventType.Page : MkioEventType.Snapshot,
            "delta" => MkioEventType.Delta,
            _ => MkioEventType.Update,
        };
        var e = new MkioEvent(kind, service, root, marker?.ResumeRef) { Origin = conn };
        if (e.Ref is not null)
        {
            target.Cursor = e.Ref;
        }

        target.Events.Writer.TryWrite(e);
        return true;
    }
}
