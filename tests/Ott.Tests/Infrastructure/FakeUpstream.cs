using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ott.Tests.Infrastructure;

/// <summary>
/// A real HTTP server on loopback (Kestrel, port 0) that stands in for YouTube, Vimeo, manifest
/// hosts and file servers, since tests have no internet. Routes are exact paths; every request's
/// path and query is recorded so tests can count upstream calls.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<HttpContext, Task>> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _requests = new();

    private FakeUpstream(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>
    /// Media fetching's guard with loopback allowlisted, as an operator would allowlist a LAN range: the fakes live on
    /// 127.0.0.1, which the default guard refuses (Sync/Media/OutboundGuard.cs).
    /// </summary>
    internal static Ott.Sync.Media.OutboundGuard LoopbackAllowed { get; } =
        new(["127.0.0.0/8"], [], new Ott.Sync.Media.SystemHostResolver());

    public IReadOnlyList<string> Requests => [.. _requests];

    public static async Task<FakeUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeUpstream? fake = null;
        app.Run(ctx => fake!.DispatchAsync(ctx));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake = new FakeUpstream(app, new Uri(address));
        return fake;
    }

    public string Url(string pathAndQuery) => new Uri(BaseAddress, pathAndQuery).ToString();

    public int Hits(string path) => _requests.Count(r => r.Split('?')[0] == path);

    public void Map(string path, Func<HttpContext, Task> handler) => _routes[path] = handler;

    public void Text(string path, string body, string contentType = "text/plain", int status = 200, TimeSpan? delay = null) =>
        Map(path, async ctx =>
        {
            if (delay is { } d)
            {
                await Task.Delay(d, ctx.RequestAborted);
            }
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = contentType;
            await ctx.Response.WriteAsync(body, Encoding.UTF8, ctx.RequestAborted);
        });

    public void Json(string path, string body, int status = 200, TimeSpan? delay = null) =>
        Text(path, body, "application/json", status, delay);

    public void File(string path, string file, string contentType) =>
        Map(path, ctx => Results.File(file, contentType, enableRangeProcessing: true).ExecuteAsync(ctx));

    private Task DispatchAsync(HttpContext ctx)
    {
        _requests.Enqueue(ctx.Request.Path + ctx.Request.QueryString);
        if (_routes.TryGetValue(ctx.Request.Path.Value ?? "", out var handler))
        {
            return handler(ctx);
        }
        ctx.Response.StatusCode = 404;
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
