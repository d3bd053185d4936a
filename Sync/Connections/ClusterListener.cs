using System.Text.Json;
using Ott.Sync.Cluster;
using Ott.Sync.Rooms;

namespace Ott.Sync.Connections;

/// <summary>
/// What the rest of the cluster tells this node's clients: the cluster channel (a node going down,
/// announcements, session changes), membership changes (a node left, this node was pruned or cut off from
/// the store) and a restored subscriber connection (docs/architecture.md §9.5, §9.6).
/// </summary>
internal sealed partial class ClusterListener(
    NodeBus bus,
    Membership membership,
    GatewayRooms gateways,
    ConnectionRegistry registry,
    RoomManager rooms,
    ILogger<ClusterListener> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        membership.NodeLeft += NodeLeft;
        membership.Pruned += gateways.RejoinAll;
        membership.CutOff += CutOff;
        bus.SubscriptionRestored += gateways.RejoinAll;
        try
        {
            await foreach (var message in bus.ClusterMessages.ReadAllAsync(stoppingToken))
            {
                using (message)
                {
                    try
                    {
                        Handle(message);
                    }
                    catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
                    {
                        Log.Unreadable(logger, e, message.Type);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            membership.NodeLeft -= NodeLeft;
            membership.Pruned -= gateways.RejoinAll;
            membership.CutOff -= CutOff;
            bus.SubscriptionRestored -= gateways.RejoinAll;
        }
    }

    private void Handle(BusMessage message)
    {
        switch (message.Type)
        {
            case BusType.NodeDown:
                membership.MarkDown(message.From);
                gateways.OwnerGone(message.From);
                break;
            case BusType.Announcement when message.Payload.ValueKind == JsonValueKind.Object:
                registry.AnnounceLocally(message.Payload.GetProperty("text").GetString() ?? "");
                break;
            case BusType.UserChanged when message.Payload.ValueKind == JsonValueKind.Object:
                var sessionKey = message.Payload.GetProperty("sessionKey").GetString() ?? "";
                _ = registry.RefreshSessionAsync(sessionKey, CancellationToken.None);
                break;
        }
    }

    /// <summary>A node left: owners drop its users, and rooms it owned re-join their clients elsewhere (§9.6).</summary>
    private void NodeLeft(string nodeId)
    {
        rooms.GatewayLost(nodeId);
        gateways.OwnerGone(nodeId);
    }

    private void CutOff() => registry.CloseAll(1012, "Server cannot reach its store");

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Dropped an unreadable {Type} message from the cluster channel")]
        public static partial void Unreadable(ILogger logger, Exception e, string type);
    }
}
