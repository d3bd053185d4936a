using System.Collections.Immutable;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Limits;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;

namespace Ott.Sync.Endpoints;

// The room REST API's queue, vote and undo handlers (docs/protocol.md §4.3), beside RoomEndpoints' room handlers.
internal static partial class RoomEndpoints
{
    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> UndoAsync(
        string name, HttpContext http, RoomManager rooms, CancellationToken ct)
    {
        var (body, error) = await RoomBodyAsync(name, http, ct);
        if (error is not null)
        {
            return error;
        }
        if (body!["data"] is not JsonObject data || data["event"] is not JsonObject echo)
        {
            return Zod([body["data"] is JsonObject ? Protocol.Zod.Required("object", "data", "event") : Protocol.Zod.Required("object", "data")]);
        }
        var caller = http.GetRequiredApiCaller();
        if (!await ConnectedAsync(rooms, name, caller, ct))
        {
            return OttFailure.ClientNotFoundInRoom(name).ToResult();
        }
        var request = new UndoRequest(echo) { Raw = new JsonObject { ["type"] = 12, ["event"] = echo.DeepClone() } };
        return Done(await rooms.SendAsync(name, new RequestCommand(ActorOf(caller), request), ct, activate: false,
            whenNotLoaded: OttFailure.ClientNotFoundInRoom(name)));
    }

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> VoteAsync(
        string name, bool add, HttpContext http, RoomManager rooms, CancellationToken ct)
    {
        var (video, error) = await RoomVideoAsync(name, http, ct);
        if (error is not null)
        {
            return error;
        }
        var caller = http.GetRequiredApiCaller();
        if (!await ConnectedAsync(rooms, name, caller, ct))
        {
            return OttFailure.ClientNotFoundInRoom(name).ToResult();
        }
        var request = new VoteRequest(video, add)
        {
            Raw = new JsonObject { ["type"] = 8, ["video"] = new JsonObject { ["service"] = video.Service, ["id"] = video.Id }, ["add"] = add },
        };
        return Done(await rooms.SendAsync(name, new RequestCommand(ActorOf(caller), request), ct, activate: false,
            whenNotLoaded: OttFailure.ClientNotFoundInRoom(name)));
    }

    // ----- queue -----

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> AddAsync(
        string name, HttpContext http, RoomManager rooms, PointsLimiter limiter, CancellationToken ct)
    {
        var (body, error) = await RoomBodyAsync(name, http, ct);
        if (error is not null)
        {
            return error;
        }
        var (request, invalid) = ParseAdd(body!);
        if (request is null)
        {
            return invalid!;
        }
        if (await limiter.ChargeOrRefuseAsync(http, request.Videos is { } videos ? 3 * videos.Count : 5, ct) is { } limited)
        {
            return limited;
        }
        return Done(await rooms.SendAsync(name, new RequestCommand(ActorOf(http.GetRequiredApiCaller()), request), ct));
    }

    /// <summary>The first shape that matches of {videos}, {service, id, subtitleUrl?} and {url} (docs/protocol.md §4.3).</summary>
    internal static (AddRequest? Request, OttErrorResult? Error) ParseAdd(JsonObject body)
    {
        var raw = new JsonObject { ["type"] = 5 };
        var videosIssues = new List<ZodIssue>();
        if (body["videos"] is JsonArray array)
        {
            var videos = ImmutableList.CreateBuilder<VideoAdd>();
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is not JsonObject v)
                {
                    videosIssues.Add(Protocol.Zod.InvalidType("object", array[i], "videos", i));
                    continue;
                }
                var itemIssues = ServiceAndId(v, subtitle: true);
                videosIssues.AddRange(itemIssues.Select(x => x with { Path = [.. new object[] { "videos", i }.Concat(x.Path)] }));
                if (itemIssues.IsEmpty)
                {
                    videos.Add(VideoAddFrom(v));
                }
            }
            if (videosIssues.Count == 0)
            {
                raw["videos"] = array.DeepClone();
                return (new AddRequest(null, videos.ToImmutable(), null) { Raw = raw }, null);
            }
        }
        else
        {
            videosIssues.Add(body["videos"] is null ? Protocol.Zod.Required("array", "videos") : Protocol.Zod.InvalidType("array", body["videos"], "videos"));
        }
        var single = ServiceAndId(body, subtitle: true);
        if (single.IsEmpty)
        {
            var video = VideoAddFrom(body);
            raw["video"] = body.DeepClone();
            return (new AddRequest(video, null, null) { Raw = raw }, null);
        }
        if (Protocol.Zod.IsString(body["url"]))
        {
            raw["url"] = body["url"]!.GetValue<string>();
            return (new AddRequest(null, null, body["url"]!.GetValue<string>()) { Raw = raw }, null);
        }
        var url = body["url"] is null ? Protocol.Zod.Required("string", "url") : Protocol.Zod.InvalidType("string", body["url"], "url");
        return (null, Alternatives(videosIssues, [.. single], [url]));
    }

    /// <summary>
    /// Zod's union error (docs/protocol.md §4.1): the first alternative that failed only on checks is
    /// reported alone; when every one failed on a type, their messages are joined with ", or ".
    /// </summary>
    private static OttErrorResult Alternatives(params List<ZodIssue>[] alternatives)
    {
        if (alternatives.FirstOrDefault(a => a.All(i => i.IsCheck)) is { } checksOnly)
        {
            return Zod(checksOnly);
        }
        var joined = alternatives.Select(a => string.Join("; ", a.Select(i => i.Describe()))).Distinct();
        return OttErrors.ZodValidation("Validation error: " + string.Join(", or ", joined),
            new JsonArray([.. alternatives.SelectMany(a => a).Select(i => (JsonNode?)i.ToJson())]));
    }

    private static VideoAdd VideoAddFrom(JsonObject v) => new(
        v["service"]!.GetValue<string>(), v["id"]!.GetValue<string>(),
        Protocol.Zod.TryGetDouble(v["startAt"], out var s) ? s : null,
        Protocol.Zod.TryGetDouble(v["endAt"], out var e) ? e : null,
        Protocol.Zod.IsString(v["subtitleUrl"]) ? v["subtitleUrl"]!.GetValue<string>() : null);

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> EditAsync(
        string name, HttpContext http, RoomManager rooms, PointsLimiter limiter, CancellationToken ct)
    {
        var (body, error) = await RoomBodyAsync(name, http, ct);
        if (error is not null)
        {
            return error;
        }
        var issues = ServiceAndId(body!, subtitle: false);
        if (body!["subtitleUrl"] is { } sub && !Protocol.Zod.IsString(sub))
        {
            issues = issues.Add(Protocol.Zod.InvalidType("string", sub, "subtitleUrl"));
        }
        if (!issues.IsEmpty)
        {
            return Zod(issues);
        }
        if (await limiter.ChargeOrRefuseAsync(http, 5, ct) is { } limited)
        {
            return limited;
        }
        var video = new VideoId(body["service"]!.GetValue<string>(), body["id"]!.GetValue<string>());
        var subtitle = body["subtitleUrl"]?.GetValue<string>();
        var request = new UpdateQueueItemRequest(video, new QueueItemUpdate(false, null, false, null, true, subtitle))
        {
            Raw = new JsonObject
            {
                ["type"] = 19,
                ["video"] = new JsonObject { ["service"] = video.Service, ["id"] = video.Id },
                ["update"] = body.ContainsKey("subtitleUrl") ? new JsonObject { ["subtitleUrl"] = subtitle } : new JsonObject(),
            },
        };
        return Done(await rooms.SendAsync(name, new RequestCommand(ActorOf(http.GetRequiredApiCaller()), request), ct));
    }

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> RemoveAsync(
        string name, HttpContext http, RoomManager rooms, PointsLimiter limiter, CancellationToken ct)
    {
        var (video, error) = await RoomVideoAsync(name, http, ct);
        if (error is not null)
        {
            return error;
        }
        if (await limiter.ChargeOrRefuseAsync(http, 5, ct) is { } limited)
        {
            return limited;
        }
        var request = new RemoveRequest(video)
        {
            Raw = new JsonObject { ["type"] = 6, ["video"] = new JsonObject { ["service"] = video.Service, ["id"] = video.Id } },
        };
        return Done(await rooms.SendAsync(name, new RequestCommand(ActorOf(http.GetRequiredApiCaller()), request), ct));
    }
}
