using Microsoft.Playwright;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Browser;

namespace Ott.Tests.Browser;

// Alone, after the parallel classes: the 0.5 s position checks measure two players on a shared
// 2-core machine, and under the full suite's load a page step can take seconds.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection
{
    public const string Name = "Browser";
}

/// <summary>
/// The watch page in a real browser (issue 9): two pages in one room, the way two people use it.
/// Positions are read from each page's &lt;video&gt; element at the same moment.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed partial class WatchPageTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan NavigationTimeout = TimeSpan.FromSeconds(30);

    [Fact(Timeout = 60_000)]
    public async Task PlayPauseSeekSpeedAndSkipOnOnePageAreFollowedByTheOther()
    {
        var a = await fixture.NewPageAsync();
        await CreateRoomFromHomeAsync(a);
        await ConnectedAsync(a);
        var b = await fixture.NewPageAsync();
        await b.GotoAsync(a.Url);
        await ConnectedAsync(b);
        await WaitForTextAsync(a, "#user-count", "(2)");

        await AddAsync(a, fixture.Media.UrlOf("clip-a.mp4"));
        await AddAsync(a, fixture.Media.UrlOf("clip-b.mp4"));
        await WaitForTextAsync(b, "#queue-count", "(1)");
        // A rejected add is explained, and the URL stays in the box to be fixed.
        await a.FillAsync("#add-url", fixture.Media.UrlOf("clip-b.mp4"));
        await a.ClickAsync("#add-form button[type=submit]");
        await Assertions.Expect(a.Locator("#alerts")).ToContainTextAsync("already in the queue");
        await Assertions.Expect(a.Locator("#add-url")).ToHaveValueAsync(fixture.Media.UrlOf("clip-b.mp4"));
        await UntilAsync(async () => await SourceAsync(a) == "clip-a.mp4" && await SourceAsync(b) == "clip-a.mp4", "both pages load the first clip");
        // Each page reports its player's status, so both users show as ready on the other page.
        await UntilAsync(async () => await a.Locator("#users .user[data-status=ready]").CountAsync() == 2, "both users are ready");

        await a.ClickAsync("#play");
        await SettledAsync(a, b, state => !state.Paused && state.Position > 1.5, "both play past 1.5 s");

        await a.ClickAsync("#play");
        await SettledAsync(a, b, state => state.Paused, "both pause");

        await a.Locator("#seek").FillAsync("30");
        await SettledAsync(a, b, state => state.Paused && Math.Abs(state.Position - 30) < 0.3, "both are at 30 s");

        await a.SelectOptionAsync("#speed", "1.5");
        await WaitForValueAsync(b, "#speed", "1.5");
        await a.ClickAsync("#play");
        await SettledAsync(a, b, state => !state.Paused && state.Position > 31 && Math.Abs(state.Rate - 1.5) <= 0.16, "both play at 1.5×");
        var measured = await b.EvaluateAsync<double>(MeasureRateScript);
        Assert.InRange(measured, 1.3, 1.7);

        await a.ClickAsync("#skip");
        await UntilAsync(async () => await SourceAsync(a) == "clip-b.mp4" && await SourceAsync(b) == "clip-b.mp4", "both pages move to the second clip");
        await WaitForValueAsync(b, "#speed", "1");
        await SettledAsync(a, b, state => !state.Paused && state.Position > 0.5 && Math.Abs(state.Rate - 1) <= 0.11, "both play the second clip");
        await WaitForTextAsync(b, "#queue-count", "(0)");

        await a.Context.CloseAsync();
        await b.Context.CloseAsync();
    }

    [Fact(Timeout = 60_000)]
    public async Task ChatAndUserListWorkAndPagesReconnectAfterTheServerRestarts()
    {
        // The room is made over REST and opened by its address, as a shared link would be.
        var room = OttApplication.NewRoomName();
        using (var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) })
        {
            var token = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("/api/auth/grant"))!["token"]!.GetValue<string>();
            using var create = new HttpRequestMessage(HttpMethod.Post, "/api/room/create")
            {
                Content = OttApplication.Json(new System.Text.Json.Nodes.JsonObject { ["name"] = room }),
            };
            create.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var created = await http.SendAsync(create);
            created.EnsureSuccessStatusCode();
        }
        var a = await fixture.NewPageAsync();
        await a.GotoAsync($"{fixture.BaseUrl}/room/{room}");
        await ConnectedAsync(a);
        var b = await fixture.NewPageAsync(390, 844);
        await b.GotoAsync(a.Url);
        await ConnectedAsync(b);

        await RenameAsync(a, "alice");
        await RenameAsync(b, "bob");
        foreach (var page in (IPage[])[a, b])
        {
            await UntilAsync(async () => await UserNamesAsync(page) is var names && names.Contains("alice") && names.Contains("bob") && names.Count == 2,
                "both names are listed");
            await Assertions.Expect(page.Locator("#users")).ToContainTextAsync("Unregistered");
        }
        await Assertions.Expect(a.Locator("#users")).ToContainTextAsync("alice (you)");

        await ChatAsync(a, "hello bob");
        await Assertions.Expect(b.Locator("#chat-log")).ToContainTextAsync("alice: hello bob");

        await fixture.RestartAsync();
        foreach (var page in (IPage[])[a, b])
        {
            await WaitForAttributeAsync(page, "body", "data-opened", "2", TimeSpan.FromSeconds(30));
            await ConnectedAsync(page);
            // The new server knows only the reconnected sockets: the same two names, no stale users.
            await UntilAsync(async () => await UserNamesAsync(page) is var names && names.Count == 2 && names.Contains("alice") && names.Contains("bob"),
                "the user list is rebuilt after the reconnect");
        }

        await ChatAsync(b, "welcome back");
        await Assertions.Expect(a.Locator("#chat-log")).ToContainTextAsync("bob: welcome back");

        await a.Context.CloseAsync();
        await b.Context.CloseAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task UnknownRoomShowsTheCloseReasonInWords()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync($"{fixture.BaseUrl}/room/{OttApplication.NewRoomName()}");
        var dialog = page.Locator("#disconnected");
        await Assertions.Expect(dialog).ToBeVisibleAsync();
        await Assertions.Expect(dialog).ToContainTextAsync("Room not found.");
        await Assertions.Expect(page.Locator("#reload")).ToBeFocusedAsync();
        await page.Context.CloseAsync();
    }

    [Fact(Timeout = 60_000)]
    public async Task QueueReordersByKeyboardWithoutMovingTheLayoutAtDesktopAndPhoneWidth()
    {
        var desktop = await fixture.NewPageAsync();
        await CreateRoomFromHomeAsync(desktop);
        await ConnectedAsync(desktop);
        var phone = await fixture.NewPageAsync(390, 844);
        await phone.GotoAsync(desktop.Url);
        await ConnectedAsync(phone);
        await RenameAsync(desktop, "alice");
        await RenameAsync(phone, "bob");
        await AddAsync(desktop, fixture.Media.UrlOf("clip-a.mp4"));
        await UntilAsync(async () => await SourceAsync(phone) == "clip-a.mp4", "the phone loads the clip");

        var before = await LayoutAsync(desktop);
        var phoneBefore = await LayoutAsync(phone);
        foreach (var clip in (string[])["clip-b.mp4", "clip-c.mp4", "clip-d.mp4"])
        {
            await AddAsync(desktop, fixture.Media.UrlOf(clip));
        }
        await WaitForTextAsync(phone, "#queue-count", "(3)");
        Assert.Equal(before, await LayoutAsync(desktop));
        Assert.Equal(phoneBefore, await LayoutAsync(phone));
        Assert.True(await phone.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"),
            "the room page scrolls sideways at phone width");

        // Keyboard reorder: Enter on "Move clip-b down" moves it, and focus stays with clip-b.
        await desktop.GetByRole(AriaRole.Button, new() { Name = "Move clip-b down" }).FocusAsync();
        await desktop.Keyboard.PressAsync("Enter");
        await UntilAsync(async () => await QueueTitlesAsync(phone) is ["clip-c", "clip-b", "clip-d"], "the phone shows the new order");
        await Assertions.Expect(desktop.GetByRole(AriaRole.Button, new() { Name = "Move clip-b down" })).ToBeFocusedAsync();

        await desktop.ClickAsync("#play");
        await ChatAsync(phone, "this is the test card");
        await ChatAsync(desktop, "looks great");
        await Assertions.Expect(desktop.Locator("#chat-log")).ToContainTextAsync("bob: this is the test card");
        await SettledAsync(desktop, phone, state => !state.Paused && state.Position > 2, "both play");
        await UntilAsync(async () => await desktop.Locator("#users .user[data-status=ready]").CountAsync() == 2, "both users are ready");
        if (Environment.GetEnvironmentVariable("OTT_SCREENSHOT_DIR") is { Length: > 0 } directory)
        {
            await desktop.ScreenshotAsync(new() { Path = Path.Combine(directory, "watch-page-desktop.png"), FullPage = true });
            await phone.ScreenshotAsync(new() { Path = Path.Combine(directory, "watch-page-phone.png"), FullPage = true });
        }

        await desktop.Context.CloseAsync();
        await phone.Context.CloseAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task DriftRuleNudgesSmallDriftSeeksLargeDriftAndFollowsTheLivePosition()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(fixture.BaseUrl + "/");
        var result = await page.EvaluateAsync<double[]>("""
            async () => {
              const { correct, PlaybackClock } = await import('/js/timing.js');
              let now = 0;
              const clock = new PlaybackClock(() => now);
              clock.apply({ isPlaying: true, playbackPosition: 10, playbackSpeed: 1 });
              now = 2000;
              const live = clock.live();                               // 12
              clock.apply({ playbackSpeed: 2 });                       // OTT sends no position: flush at 1×
              now = 3000;
              const afterSpeed = clock.live();                         // 12 + 2
              clock.apply({ isPlaying: false, playbackPosition: 20 });
              now = 9000;
              const paused = clock.live();                             // 20
              const behind = correct(-0.3, 1, true);                   // nudge faster
              const ahead = correct(0.3, 1.5, true);                   // nudge slower
              const far = correct(1.5, 1, true);                       // seek
              const small = correct(0.02, 1, true);                    // leave alone
              const youTube = correct(0.5, 1, true, false);            // no nudging: wait for 1 s
              return [live, afterSpeed, paused, behind.rate, behind.seek ? 1 : 0, ahead.rate, far.seek ? 1 : 0,
                      small.rate, youTube.rate, youTube.seek ? 1 : 0];
            }
            """);
        Assert.Equal([12, 14, 20], result[..3]);
        Assert.InRange(result[3], 1.05, 1.1);
        Assert.Equal(0, result[4]);
        Assert.InRange(result[5], 1.5 * 0.9, 1.5 * 0.95);
        Assert.Equal(1, result[6]);
        Assert.Equal(1, result[7]);
        Assert.Equal(1, result[8]);
        Assert.Equal(0, result[9]);
        await page.Context.CloseAsync();
    }

    // ----- helpers -----

    // The boxes of everything outside the queue list, which must not move when the queue changes.
    private static Task<string> LayoutAsync(IPage page) => page.EvaluateAsync<string>("""
        () => ['#player-box', '#controls', '#add-form', '.users-panel', '.chat-panel', '.queue-panel']
          .map(s => { const r = document.querySelector(s).getBoundingClientRect(); return `${s} ${r.x},${r.y},${r.width},${r.height}`; })
          .join('; ')
        """);

    private static async Task<string[]> QueueTitlesAsync(IPage page) =>
        [.. await page.Locator("#queue .queue-title").AllTextContentsAsync()];

    private const string MeasureRateScript = """
        async () => {
          const v = document.querySelector('#player-host video');
          const t0 = performance.now(), p0 = v.currentTime;
          await new Promise(r => setTimeout(r, 1000));
          return (v.currentTime - p0) / ((performance.now() - t0) / 1000);
        }
        """;

    private sealed record PlayerState(double Position, bool Paused, double Rate);

    private static async Task<PlayerState?> PlayerAsync(IPage page)
    {
        var values = await page.EvaluateAsync<double[]?>(
            "() => { const v = document.querySelector('#player-host video'); return v ? [v.currentTime, v.paused ? 1 : 0, v.playbackRate] : null; }");
        return values is null ? null : new PlayerState(values[0], values[1] == 1, values[2]);
    }

    private static async Task<string?> SourceAsync(IPage page) =>
        await page.EvaluateAsync<string?>(
            "() => { const v = document.querySelector('#player-host video'); return v && v.readyState >= 1 ? v.currentSrc.split('/').pop() : null; }");

    // Both pages satisfy the condition and their positions, read at the same moment, are within 0.5 s.
    private static async Task SettledAsync(IPage a, IPage b, Func<PlayerState, bool> condition, string because)
    {
        PlayerState? lastA = null, lastB = null;
        try
        {
            await WaitUntil.WaitUntilAsync(async () =>
            {
                var states = await Task.WhenAll(PlayerAsync(a), PlayerAsync(b));
                (lastA, lastB) = (states[0], states[1]);
                return lastA is not null && lastB is not null && condition(lastA) && condition(lastB)
                    && Math.Abs(lastA.Position - lastB.Position) < 0.5;
            }, Settle, because + " within 0.5 s of each other");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Last: a={lastA}, b={lastB}", e);
        }
    }

    private static Task UntilAsync(Func<Task<bool>> condition, string because) =>
        WaitUntil.WaitUntilAsync(condition, Settle, because);

    // The home page's "Create a temporary room", then its room page (whose readiness is ConnectedAsync's). The page's
    // address is polled rather than awaited with WaitForURLAsync: that call hung for its whole timeout in 1 of 10
    // loaded runs (4 of 6 when asked to wait only for the commit) although the room page had committed right after
    // the click, which points at a race between the click's navigation and the call's own listener. When the page
    // does not get there, the failure says where it is and what it shows, read without waiting.
    private async Task CreateRoomFromHomeAsync(IPage page)
    {
        await page.GotoAsync(fixture.BaseUrl + "/");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create a temporary room" }).ClickAsync();
        try
        {
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(new Uri(page.Url).AbsolutePath.StartsWith("/room/", StringComparison.Ordinal)),
                NavigationTimeout, "the home page opens a room");
        }
        catch (TimeoutException)
        {
            string shown;
            try
            {
                shown = await page.EvaluateAsync<string>("""
                    () => (document.getElementById('home-error')?.textContent
                            ?? 'no home page: ' + (document.body?.innerText ?? '').slice(0, 200))
                        + ` (this document's navigation began ${Math.round(performance.now())} ms ago)`
                    """);
            }
            catch (PlaywrightException e)
            {
                shown = "unreadable: " + e.Message;
            }
            throw new Xunit.Sdk.XunitException($"the home page did not open a room within {NavigationTimeout.TotalSeconds} s; it shows \"{shown}\" at {page.Url}");
        }
    }

    private static async Task ConnectedAsync(IPage page)
    {
        await WaitForAttributeAsync(page, "body", "data-connection", "open", Settle);
        await Assertions.Expect(page.Locator("#users")).ToContainTextAsync("(you)");
    }

    private static async Task WaitForAttributeAsync(IPage page, string selector, string name, string value, TimeSpan timeout) =>
        await page.WaitForSelectorAsync($"{selector}[{name}=\"{value}\"]", new() { Timeout = (float)timeout.TotalMilliseconds });

    private static Task WaitForTextAsync(IPage page, string selector, string text) =>
        Assertions.Expect(page.Locator(selector)).ToHaveTextAsync(text);

    private static Task WaitForValueAsync(IPage page, string selector, string value) =>
        Assertions.Expect(page.Locator(selector)).ToHaveValueAsync(value);

    private static async Task AddAsync(IPage page, string url)
    {
        await page.FillAsync("#add-url", url);
        await page.ClickAsync("#add-form button[type=submit]");
        await Assertions.Expect(page.Locator("#add-url")).ToHaveValueAsync("");
    }

    private static async Task RenameAsync(IPage page, string name)
    {
        await page.FillAsync("#name-input", name);
        await page.ClickAsync("#name-form button[type=submit]");
        await Assertions.Expect(page.Locator("#users")).ToContainTextAsync($"{name} (you)");
    }

    private static async Task ChatAsync(IPage page, string text)
    {
        await page.FillAsync("#chat-input", text);
        await page.PressAsync("#chat-input", "Enter");
    }

    private static async Task<List<string>> UserNamesAsync(IPage page) =>
        [.. (await page.Locator("#users .user-name").AllTextContentsAsync()).Select(n => n.Replace(" (you)", "", StringComparison.Ordinal))];
}
