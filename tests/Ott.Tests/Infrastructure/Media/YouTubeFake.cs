using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Ott.Tests.Infrastructure.Media;

/// <summary>The YouTube Data API v3 shapes Ott reads (videos, playlistItems, search), served from memory.</summary>
public sealed class YouTubeFake
{
    public const string Key = "fake-youtube-key";

    private readonly ConcurrentDictionary<string, (string Title, string Duration, string Live)> _videos = new();
    private readonly ConcurrentDictionary<string, string[]> _playlists = new();

    public YouTubeFake(FakeUpstream upstream, string prefix = "/yt")
    {
        Prefix = prefix;
        upstream.Map(prefix + "/videos", VideosAsync);
        upstream.Map(prefix + "/playlistItems", PlaylistItemsAsync);
        upstream.Map(prefix + "/search", SearchAsync);
    }

    public string Prefix { get; }

    public TimeSpan Delay { get; set; }

    public string[] SearchResults { get; set; } = [];

    public void Video(string id, string title, string duration, string live = "none") => _videos[id] = (title, duration, live);

    public void Playlist(string id, params string[] videos) => _playlists[id] = videos;

    private async Task VideosAsync(HttpContext ctx)
    {
        if (!await CheckKeyAsync(ctx))
        {
            return;
        }
        var items = new JsonArray();
        foreach (var id in ctx.Request.Query["id"].ToString().Split(','))
        {
            if (_videos.TryGetValue(id, out var v))
            {
                items.Add(new JsonObject
                {
                    ["kind"] = "youtube#video",
                    ["id"] = id,
                    ["snippet"] = new JsonObject
                    {
                        ["title"] = v.Title,
                        ["description"] = $"About {v.Title}",
                        ["thumbnails"] = new JsonObject
                        {
                            ["default"] = new JsonObject { ["url"] = $"https://i.ytimg.com/vi/{id}/default.jpg" },
                            ["medium"] = new JsonObject { ["url"] = $"https://i.ytimg.com/vi/{id}/mqdefault.jpg" },
                        },
                        ["liveBroadcastContent"] = v.Live,
                    },
                    ["contentDetails"] = new JsonObject { ["duration"] = v.Duration },
                });
            }
        }
        await WriteAsync(ctx, new JsonObject { ["kind"] = "youtube#videoListResponse", ["items"] = items });
    }

    private async Task PlaylistItemsAsync(HttpContext ctx)
    {
        if (!await CheckKeyAsync(ctx))
        {
            return;
        }
        if (!_playlists.TryGetValue(ctx.Request.Query["playlistId"].ToString(), out var ids))
        {
            ctx.Response.StatusCode = 404;
            await WriteAsync(ctx, Error(404, "playlistNotFound"));
            return;
        }
        var items = new JsonArray();
        foreach (var id in ids)
        {
            items.Add(new JsonObject
            {
                ["snippet"] = new JsonObject { ["title"] = id, ["resourceId"] = new JsonObject { ["kind"] = "youtube#video", ["videoId"] = id } },
                ["status"] = new JsonObject { ["privacyStatus"] = id.StartsWith("priv", StringComparison.Ordinal) ? "private" : "public" },
            });
        }
        await WriteAsync(ctx, new JsonObject { ["items"] = items });
    }

    private async Task SearchAsync(HttpContext ctx)
    {
        if (!await CheckKeyAsync(ctx))
        {
            return;
        }
        var items = new JsonArray();
        foreach (var id in SearchResults)
        {
            items.Add(new JsonObject { ["id"] = new JsonObject { ["kind"] = "youtube#video", ["videoId"] = id } });
        }
        await WriteAsync(ctx, new JsonObject { ["items"] = items });
    }

    private async Task<bool> CheckKeyAsync(HttpContext ctx)
    {
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, ctx.RequestAborted);
        }
        if (ctx.Request.Query["key"] == Key)
        {
            return true;
        }
        ctx.Response.StatusCode = 400;
        await WriteAsync(ctx, Error(400, "keyInvalid"));
        return false;
    }

    public static JsonObject Error(int code, string reason) => new()
    {
        ["error"] = new JsonObject
        {
            ["code"] = code,
            ["message"] = reason,
            ["errors"] = new JsonArray(new JsonObject { ["message"] = reason, ["domain"] = "youtube", ["reason"] = reason }),
        },
    };

    private static Task WriteAsync(HttpContext ctx, JsonObject body)
    {
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(body.ToJsonString(), ctx.RequestAborted);
    }
}
