using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>
/// The owner's end of forwarding (docs/architecture.md §9.3): answers the <c>cmd</c> and <c>activate</c> requests
/// other nodes' routers address to this node. A command is accepted only by the current owner: the room is
/// loaded here, its lease deadline is valid and the request names this epoch; anything else answers
/// <c>not_owner</c> and the sender routes again.
/// </summary>
internal sealed partial class OwnerRequests(
    RoomHost host,
    NodeBus bus,
    IOptions<ClusterOptions> clusterOptions,
    ILogger<OwnerRequests> logger) : BackgroundService
{
    private ClusterOptions Cluster => clusterOptions.Value;

    /// <summary>Reads the requests other nodes address to this one; each is handled on its own, so one slow room never blocks another.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var request in bus.Requests.ReadAllAsync(stoppingToken))
            {
                _ = HandleAsync(request);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task HandleAsync(BusMessage request)
    {
        using (request)
        {
            try
            {
                await HandleRequestAsync(request);
            }
            catch (Exception e)
            {
                Log.HandlerFailed(logger, e, request.Type, request.Room);
            }
        }
    }

    /// <summary>A <c>cmd</c> or <c>activate</c> addressed to this node (docs/architecture.md §9.3 owner check).</summary>
    private async Task HandleRequestAsync(BusMessage request)
    {
        if (request.Room is not { } key)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(Cluster.RequestTimeout);
        try
        {
            if (request.Type == BusType.Activate)
            {
                await HandleActivateAsync(request, key, timeout.Token);
                return;
            }
            if (request.Type != BusType.Cmd)
            {
                return;
            }
            var actor = host.Loaded(key);
            if (actor is null || !actor.DeadlineValid || (request.Epoch != 0 && request.Epoch != actor.Token.Epoch))
            {
                bus.Reply(request, w => CommandCodec.NotOwner(w, null));
                return;
            }
            RoomCommand command;
            try
            {
                command = CommandCodec.Read(request.Payload, RequestId.Parse(request.ReqId));
            }
            catch (OttException e)
            {
                bus.Reply(request, w => CommandCodec.Error(w, e.Failure));
                return;
            }
            if (command is SnapshotCommand)
            {
                var state = actor.State;
                bus.Reply(request, w => CommandCodec.Snapshot(w, state));
                return;
            }
            var failure = await RoomHost.SendLocalAsync(actor, command, timeout.Token);
            bus.Reply(request, w =>
            {
                if (failure is null) CommandCodec.Ok(w); else CommandCodec.Error(w, failure);
            });
        }
        catch (OttException e)
        {
            bus.Reply(request, w => CommandCodec.Error(w, e.Failure));
        }
        catch (OperationCanceledException)
        {
            // The requester has given up by now; it routes again.
        }
    }

    private async Task HandleActivateAsync(BusMessage request, string key, CancellationToken ct)
    {
        if (host.IsDraining)
        {
            bus.Reply(request, w => CommandCodec.NotOwner(w, null));
            return;
        }
        var activation = await host.ActivateAsync(key, ct);
        if (activation.Actor is { } actor)
        {
            bus.Reply(request, w => CommandCodec.Activated(w, actor.Token.Epoch));
        }
        else if (activation.NotFound)
        {
            bus.Reply(request, CommandCodec.NotFound);
        }
        else
        {
            bus.Reply(request, w => CommandCodec.NotOwner(w, activation.Holder));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Error, "Handling a {Type} request for room {Room} failed")]
        public static partial void HandlerFailed(ILogger logger, Exception e, string type, string? room);
    }
}
