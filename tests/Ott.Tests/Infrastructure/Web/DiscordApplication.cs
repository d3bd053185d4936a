using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Ott.Sync.Auth;

namespace Ott.Tests.Infrastructure.Web;

/// <summary>The app with Discord login pointed at a loopback <see cref="FakeDiscord"/>, every log line captured.</summary>
public sealed class DiscordApplication : OttApplication
{
    public FakeDiscord Discord { get; private set; } = null!;

    public CapturedLogs Logs { get; } = new();

    internal AccountStore Accounts => Services.GetRequiredService<AccountStore>();

    public override async Task InitializeAsync()
    {
        Discord = await FakeDiscord.StartAsync();
        foreach (var (key, value) in Discord.Settings())
        {
            Settings[key] = value;
        }
        await base.InitializeAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        // Everything, down to Trace, reaches the capture (the console keeps its own Warning level).
        builder.ConfigureLogging(l => l.AddProvider(Logs).AddFilter<CapturedLogs>(null, LogLevel.Trace));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Discord is not null)
        {
            await Discord.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }
}

/// <summary>Every log line of the app, formatted, with its exception.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}

/// <summary>
/// A browser for Discord login: one cookie jar for Ott (the <c>token</c> and correlation cookies), redirects
/// followed by hand, and the fake Discord reached over real loopback HTTP.
/// </summary>
public sealed class DiscordBrowser : IDisposable
{
    private static readonly HttpClient Web = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });

    public DiscordBrowser(WebApplicationFactory<Program> app) =>
        Ott = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>Ott as this browser reaches it: cookies kept, no redirect followed.</summary>
    public HttpClient Ott { get; }

    public string? Token { get; private set; }

    public async Task<string> GrantAsync()
    {
        var body = JsonNode.Parse(await Ott.GetStringAsync("/api/auth/grant"))!;
        return Token = body["token"]!.GetValue<string>();
    }

    /// <summary><c>GET /api/auth/discord</c>: must redirect to Discord's authorize endpoint.</summary>
    public async Task<HttpResponseMessage> StartAsync(string? redirect = "/room/after", string path = "/api/auth/discord")
    {
        var url = redirect is null ? path : $"{path}?redirect={Uri.EscapeDataString(redirect)}";
        var response = await Ott.GetAsync(url);
        Assert.True(response.StatusCode == HttpStatusCode.Found, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return response;
    }

    /// <summary>At Discord's authorize page: the fake takes <paramref name="consent"/> (<c>as=&lt;id&gt;</c>, <c>deny=1</c>, <c>error=…</c>) and redirects back.</summary>
    public static async Task<Uri> AtDiscordAsync(Uri authorize, string consent)
    {
        using var response = await Web.GetAsync(authorize + "&" + consent);
        Assert.True(response.StatusCode == HttpStatusCode.Found, $"authorize: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return response.Headers.Location!;
    }

    /// <summary>The whole round trip as <paramref name="user"/>; the answer is the callback's.</summary>
    public async Task<HttpResponseMessage> LoginAsync(DiscordUser user, string? redirect = "/room/after") =>
        await LoginAsync("as=" + user.Id, redirect);

    public async Task<HttpResponseMessage> LoginAsync(string consent, string? redirect = "/room/after")
    {
        using var start = await StartAsync(redirect);
        var callback = await AtDiscordAsync(start.Headers.Location!, consent);
        return await Ott.GetAsync(callback);
    }

    /// <summary>The round trip must end in a redirect to <paramref name="expected"/>.</summary>
    public async Task LoginOkAsync(DiscordUser user, string expected = "/room/after")
    {
        using var response = await LoginAsync(user);
        Assert.True(response.StatusCode == HttpStatusCode.Found, $"callback: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(expected, response.Headers.Location!.OriginalString);
    }

    public async Task<JsonObject> GetAsync(string path)
    {
        using var response = await Ott.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static Dictionary<string, string> QueryOf(Uri uri) =>
        QueryHelpers.ParseQuery(uri.Query).ToDictionary(kv => kv.Key, kv => kv.Value.ToString(), StringComparer.Ordinal);

    public void Dispose() => Ott.Dispose();
}
