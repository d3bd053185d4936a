using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Browser;

// The watch page's admin side (issue 18), in the same class as the other page tests so that all of
// them share one app, one media server and one browser. An owner at desktop width and a second user
// at phone width, both logged in to accounts (roles belong to accounts, docs/protocol.md §7.4).
public sealed partial class WatchPageTests
{
    private const string Password = "Sup3rSecret!";

    [Fact(Timeout = 90_000)]
    public async Task OwnerChangesSettingsAndRolesFromThePageAndUndoesAnAddByKeyboard()
    {
        var (owner, phone, room, names) = await OwnerAndGuestAsync();
        try
        {

            // Settings: the owner renames the room, switches vote-skip on and takes chat from
            // unregistered users; the phone sees the new title, and its dialog shows the new grid read-only.
            await owner.ClickAsync("#open-settings");
            var settings = owner.Locator("#settings-dialog");
            await Assertions.Expect(settings).ToBeVisibleAsync();
            await Assertions.Expect(owner.Locator("#set-title")).ToBeFocusedAsync();
            await owner.FillAsync("#set-title", "Movie night");
            await owner.SelectOptionAsync("#set-visibility", "public");
            await owner.CheckAsync("#set-enableVoteSkip");
            // Masks are cumulative: chat stays with Registered (now its own) when Unregistered loses it.
            await owner.UncheckAsync("#perm-7-0");
            await Assertions.Expect(owner.Locator("#perm-7-1")).ToBeEnabledAsync();
            await Assertions.Expect(owner.Locator("#perm-7-1")).ToBeCheckedAsync();
            // The waitForBuffering control appears only when the room state carries the setting.
            Assert.Equal(names.Frames.HasWaitForBuffering, await owner.Locator("#set-waitForBuffering").IsVisibleAsync());
            if (Environment.GetEnvironmentVariable("OTT_SCREENSHOT_DIR") is { Length: > 0 } directory)
            {
                await settings.EvaluateAsync("d => d.scrollTop = 0");
                await owner.ScreenshotAsync(new() { Path = Path.Combine(directory, "admin-settings-desktop.png") });
            }
            // A value the server refuses (a visibility the page would never offer) is answered in the
            // dialog in the server's words, and every edit stays for another try.
            await owner.EvalOnSelectorAsync("#set-visibility", "s => { s.add(new Option('Secret', 'secret')); s.value = 'secret'; }");
            await owner.ClickAsync("#settings-save");
            await Assertions.Expect(owner.Locator("#settings-error")).ToContainTextAsync("Invalid enum value");
            await Assertions.Expect(settings).ToBeVisibleAsync();
            await Assertions.Expect(owner.Locator("#set-title")).ToHaveValueAsync("Movie night");
            await Assertions.Expect(phone.Locator("#room-title")).Not.ToHaveTextAsync("Movie night");
            await owner.SelectOptionAsync("#set-visibility", "public");
            await owner.ClickAsync("#settings-save");
            await Assertions.Expect(settings).ToBeHiddenAsync();
            await Assertions.Expect(owner.Locator("#open-settings")).ToBeFocusedAsync();
            await Assertions.Expect(phone.Locator("#room-title")).ToHaveTextAsync("Movie night");
            var state = await GetRoomAsync(room);
            Assert.Equal("public", state["visibility"]!.GetValue<string>());
            Assert.True(state["enableVoteSkip"]!.GetValue<bool>());
            var grants = state["grants"]!.AsArray().ToDictionary(p => p![0]!.GetValue<int>(), p => p![1]!.GetValue<long>());
            Assert.Equal(0, grants[0] & 128);
            Assert.Equal(128, grants[1] & 128);

            await phone.ClickAsync("#open-settings");
            await Assertions.Expect(phone.Locator("#set-title")).ToHaveValueAsync("Movie night");
            await Assertions.Expect(phone.Locator("#perm-7-0")).Not.ToBeCheckedAsync();
            await Assertions.Expect(phone.Locator("#perm-7-0")).ToBeDisabledAsync();
            await Assertions.Expect(phone.Locator("#set-enableVoteSkip")).ToBeCheckedAsync();
            Assert.True(await NoSidewaysScrollAsync(phone), "the settings dialog scrolls the page sideways at phone width");
            if (Environment.GetEnvironmentVariable("OTT_SCREENSHOT_DIR") is { Length: > 0 } phoneDirectory)
            {
                await phone.Locator("#permissions-fieldset").EvaluateAsync("e => e.scrollIntoView()");
                await phone.ScreenshotAsync(new() { Path = Path.Combine(phoneDirectory, "admin-settings-phone.png") });
            }
            await phone.Keyboard.PressAsync("Escape");
            await Assertions.Expect(phone.Locator("#settings-dialog")).ToBeHiddenAsync();
            // The guest holds no promote, kick or ban grant: no Manage button for the owner.
            await Assertions.Expect(phone.Locator("#users button.manage")).ToHaveCountAsync(0);

            // Promote by keyboard only: Tab to $"Manage {names.Guest}", Enter, pick the role, Tab, Enter, Escape.
            var manageBob = owner.GetByRole(AriaRole.Button, new() { Name = $"Manage {names.Guest}" });
            await TabToAsync(owner, manageBob);
            await owner.Keyboard.PressAsync("Enter");
            var userDialog = owner.Locator("#user-dialog");
            await Assertions.Expect(userDialog).ToBeVisibleAsync();
            await Assertions.Expect(owner.Locator("#role-select")).ToBeFocusedAsync();
            await Assertions.Expect(owner.Locator("#user-summary")).ToContainTextAsync("Registered");
            await owner.Keyboard.PressAsync("ArrowDown");
            await Assertions.Expect(owner.Locator("#role-select")).ToHaveValueAsync("3");
            await owner.Keyboard.PressAsync("Tab");
            await owner.Keyboard.PressAsync("Enter");
            await Assertions.Expect(owner.Locator("#user-status")).ToHaveTextAsync($"{names.Guest} is now Moderator.");
            await Assertions.Expect(phone.Locator("#users")).ToContainTextAsync("Moderator");
            await owner.Keyboard.PressAsync("Escape");
            await Assertions.Expect(userDialog).ToBeHiddenAsync();
            await Assertions.Expect(manageBob).ToBeFocusedAsync();

            // A moderator may kick, but not the owner; demote goes back by mouse.
            await Assertions.Expect(phone.Locator("#users button.manage")).ToHaveCountAsync(0);
            await manageBob.ClickAsync();
            await owner.SelectOptionAsync("#role-select", "1");
            await owner.ClickAsync("#role-form button[type=submit]");
            await Assertions.Expect(owner.Locator("#user-status")).ToHaveTextAsync($"{names.Guest} is now Registered.");
            await Assertions.Expect(phone.Locator("#users")).Not.ToContainTextAsync("Moderator");
            await owner.ClickAsync("#user-dialog [data-close]");

            // Undo on a toast: an Add's toast on the phone undoes it for everyone; the owner's toast
            // of the same event then answers the server's error in words.
            await AddAsync(owner, fixture.Media.UrlOf("clip-a.mp4"));
            await WaitForNowPlayingAsync(phone, "clip-a");
            await AddAsync(owner, fixture.Media.UrlOf("clip-b.mp4"));
            await WaitForTextAsync(phone, "#queue-count", "(1)");
            var phoneUndo = phone.GetByRole(AriaRole.Button, new() { Name = $"Undo: {names.Owner} added clip-b" });
            // By keyboard: the second skip link jumps to the notifications, Tab reaches the Undo.
            await TabToAsync(phone, phone.GetByRole(AriaRole.Link, new() { Name = "Skip to the notifications" }));
            await phone.Keyboard.PressAsync("Enter");
            await Assertions.Expect(phone.Locator("#toasts")).ToBeFocusedAsync();
            await TabToAsync(phone, phoneUndo, fromTop: false);
            await phone.Keyboard.PressAsync("Enter");
            await WaitForTextAsync(owner, "#queue-count", "(0)");
            await Assertions.Expect(phone.Locator("#toasts")).ToContainTextAsync($"Undone: {names.Owner} added clip-b");
            await Assertions.Expect(phone.Locator("#toasts")).ToBeFocusedAsync();
            await owner.GetByRole(AriaRole.Button, new() { Name = $"Undo: {names.Owner} added clip-b" }).ClickAsync();
            await Assertions.Expect(owner.Locator("#alerts")).ToContainTextAsync("Undo failed: Bad argument: event");
            await WaitForTextAsync(owner, "#queue-count", "(0)");
        }
        finally
        {
            // Pages left open by a failure would keep playing and load the next test.
            await owner.Context.CloseAsync();
            await phone.Context.CloseAsync();
        }
    }

    [Fact(Timeout = 90_000)]
    public async Task OwnerBansUnbansKicksAndReadsTheAuditLogFromThePage()
    {
        var (owner, phone, room, names) = await OwnerAndGuestAsync();
        try
        {
            var manageGuest = owner.GetByRole(AriaRole.Button, new() { Name = $"Manage {names.Guest}" });

            // Ban for an hour with a reason: the guest's page says why it was closed, and a reload
            // (a new socket of the same account) is refused the same way.
            await manageGuest.ClickAsync();
            await owner.SelectOptionAsync("#ban-duration", "3600");
            await owner.FillAsync("#ban-reason", "spoilers");
            if (Environment.GetEnvironmentVariable("OTT_SCREENSHOT_DIR") is { Length: > 0 } userDirectory)
            {
                await owner.ScreenshotAsync(new() { Path = Path.Combine(userDirectory, "admin-user-desktop.png") });
            }
            await owner.ClickAsync("#ban-user");
            await Assertions.Expect(owner.Locator("#user-dialog")).ToBeHiddenAsync();
            await Assertions.Expect(owner.Locator("#toasts")).ToContainTextAsync($"Banned {names.Guest} for 1 hour.");
            await BannedAsync(phone);
            await Assertions.Expect(owner.Locator("#user-count")).ToHaveTextAsync("(1)");
            await phone.ReloadAsync();
            await BannedAsync(phone);

            // The bans list by keyboard: open it, the Unban button has focus, Enter lifts the ban.
            await TabToAsync(owner, owner.Locator("#open-bans"));
            await owner.Keyboard.PressAsync("Enter");
            var bans = owner.Locator("#bans-dialog");
            await Assertions.Expect(bans).ToBeVisibleAsync();
            await Assertions.Expect(owner.Locator("#bans-list")).ToContainTextAsync(names.Guest);
            await Assertions.Expect(owner.Locator("#bans-list")).ToContainTextAsync("spoilers");
            var unban = owner.GetByRole(AriaRole.Button, new() { Name = $"Unban {names.Guest}" });
            await Assertions.Expect(unban).ToBeFocusedAsync();
            if (Environment.GetEnvironmentVariable("OTT_SCREENSHOT_DIR") is { Length: > 0 } bansDirectory)
            {
                await owner.ScreenshotAsync(new() { Path = Path.Combine(bansDirectory, "admin-bans-desktop.png") });
            }
            await owner.Keyboard.PressAsync("Enter");
            await Assertions.Expect(owner.Locator("#bans-status")).ToHaveTextAsync($"Unbanned {names.Guest}.");
            await Assertions.Expect(owner.Locator("#bans-empty")).ToBeVisibleAsync();
            // A ban of an account that does not exist is refused in words, and nothing is listed.
            await owner.FillAsync("#ban-account-user", $"nobody-{room[^6..]}");
            await owner.ClickAsync("#ban-account-form button[type=submit]");
            await Assertions.Expect(owner.Locator("#bans-error")).ToContainTextAsync("Bad argument: user");
            await Assertions.Expect(owner.Locator("#bans-list li")).ToHaveCountAsync(0);
            await owner.Keyboard.PressAsync("Escape");
            await Assertions.Expect(bans).ToBeHiddenAsync();
            await Assertions.Expect(owner.Locator("#open-bans")).ToBeFocusedAsync();
            await phone.ReloadAsync();
            await ConnectedAsync(phone);

            // Kick: the guest is told so, and may come back.
            await manageGuest.ClickAsync();
            await owner.ClickAsync("#kick-user");
            await Assertions.Expect(owner.Locator("#toasts")).ToContainTextAsync($"Kicked {names.Guest}.");
            await Assertions.Expect(phone.Locator("#disconnected")).ToContainTextAsync("You were kicked from the room by a user.");

            // The audit log, newest first and paged: 20 more settings changes push the ban onto the
            // second page, which "Load older entries" brings in.
            var token = await owner.EvaluateAsync<string>("() => localStorage.getItem('ott.token')");
            using (var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) })
            {
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
                for (var i = 0; i < 20; i++)
                {
                    using var patch = await http.PatchAsync($"/api/room/{room}", OttApplication.Json(new JsonObject { ["description"] = $"take {i}" }));
                    patch.EnsureSuccessStatusCode();
                }
            }
            await owner.ClickAsync("#open-audit");
            var audit = owner.Locator("#audit-list");
            await Assertions.Expect(audit.Locator("li")).ToHaveCountAsync(20);
            await Assertions.Expect(audit.Locator("li").First).ToContainTextAsync("changed the settings");
            await Assertions.Expect(audit).Not.ToContainTextAsync($"banned {names.Guest}");
            await owner.ClickAsync("#audit-more");
            await Assertions.Expect(audit).ToContainTextAsync($"{names.Owner} (Owner) kicked {names.Guest}");
            await Assertions.Expect(audit).ToContainTextAsync($"{names.Owner} (Owner) unbanned {names.Guest}");
            await Assertions.Expect(audit).ToContainTextAsync($"{names.Owner} (Owner) banned {names.Guest}");
            await Assertions.Expect(audit.Locator("li[data-action=ban]")).ToContainTextAsync("reason: spoilers");
            await Assertions.Expect(audit).ToContainTextAsync("claimed the room");
            // Phone width: the audit log fits without sideways scrolling.
            await owner.SetViewportSizeAsync(390, 844);
            Assert.True(await NoSidewaysScrollAsync(owner), "the audit log scrolls the page sideways at phone width");
            if (Environment.GetEnvironmentVariable("OTT_SCREENSHOT_DIR") is { Length: > 0 } auditDirectory)
            {
                await owner.Locator("#audit-dialog").EvaluateAsync("d => d.scrollTop = d.scrollHeight");
                await owner.ScreenshotAsync(new() { Path = Path.Combine(auditDirectory, "admin-audit-phone.png") });
            }
        }
        finally
        {
            // Pages left open by a failure would keep playing and load the next test.
            await owner.Context.CloseAsync();
            await phone.Context.CloseAsync();
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task AdminControlsAreOfferedOnlyWhereTheRoleAndGrantsAllowThem()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(fixture.BaseUrl + "/");
        // The default grants after issue 18 (docs/protocol.md §7.3), cumulative.
        var result = await page.EvaluateAsync<string[]>("""
            async () => {
              const p = await import('/js/perms.js');
              const all = 2 ** 29 - 1;
              const grants = [[0, 113250303], [1, 113250303], [2, 113250303], [3, 113250303 + 1048576 + 2097152 + 16777216 + 134217728], [4, all], [-1, all]];
              const user = (role, isLoggedIn = true) => ({ id: 'x', name: 'x', role, isLoggedIn });
              const roles = (actor, target) => p.assignableRoles(grants, actor, target).join(',');
              return [
                roles(-1, user(1)),                     // the owner may give any role
                roles(3, user(1)),                      // a moderator: only Trusted
                roles(3, user(2)),                      // ... and back to Registered
                roles(3, user(3)),                      // not another moderator
                roles(-1, user(0, false)),              // nobody gives an anonymous user a role
                roles(4, user(-1)),                     // nor the owner
                String(p.mayKick(grants, 3, user(2))),  // moderator kicks trusted
                String(p.mayKick(grants, 3, user(3))),  // not an equal
                String(p.mayKick(grants, 4, user(-1))), // nobody kicks the owner
                String(p.mayKick(grants, 2, user(0, false))), // no kick grant for Trusted by default
                String(p.mayBan(grants, 3, user(1))),   // moderators ban by default
                String(p.can(grants, 3, 'manage-users.view-audit-log')), // but do not read the log
                String(p.can(grants, 4, 'manage-users.view-audit-log')),
                String(p.mayUndo(grants, 0, { request: { type: 5 } })),
                String(p.mayUndo([[0, 113250303 - 16]], 0, { request: { type: 5 } })), // no remove grant: no undo of an add
                String(p.mayUndo(grants, 0, { request: { type: 2 } })),  // play is not undoable
              ];
            }
            """);
        Assert.Equal(["2,3,4", "2", "1", "", "", "", "true", "false", "false", "false", "true", "false", "true", "true", "false", "false"], result);
        await page.Context.CloseAsync();
    }

    // ----- admin helpers -----

    private sealed record AdminNames(string Owner, string Guest, FrameWatch Frames);

    // Whether the server has sent the owner's page the waitForBuffering setting (issue 16), in a
    // sync or in the ott-anchor frames of a clock-synced page.
    private sealed class FrameWatch
    {
        public volatile bool HasWaitForBuffering;
    }

    // A room made over REST, an owner (logged in, claims it from the settings dialog) at desktop
    // width and a logged-in guest at phone width. Usernames are unique across the app's accounts.
    private async Task<(IPage Owner, IPage Phone, string Room, AdminNames Names)> OwnerAndGuestAsync()
    {
        var room = OttApplication.NewRoomName();
        using (var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) })
        {
            var token = JsonNode.Parse(await http.GetStringAsync("/api/auth/grant"))!["token"]!.GetValue<string>();
            using var create = new HttpRequestMessage(HttpMethod.Post, "/api/room/create")
            {
                Content = OttApplication.Json(new JsonObject { ["name"] = room }),
            };
            create.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var created = await http.SendAsync(create);
            created.EnsureSuccessStatusCode();
        }
        var owner = await fixture.NewPageAsync();
        var frames = new FrameWatch();
        owner.WebSocket += (_, socket) => socket.FrameReceived += (_, frame) =>
        {
            if (frame.Text is { } text && text.Contains("\"waitForBuffering\"", StringComparison.Ordinal))
            {
                frames.HasWaitForBuffering = true;
            }
        };
        await owner.GotoAsync($"{fixture.BaseUrl}/room/{room}");
        await ConnectedAsync(owner);
        var phone = await fixture.NewPageAsync(390, 844);
        await phone.GotoAsync(owner.Url);
        await ConnectedAsync(phone);
        var names = new AdminNames("alice-" + room[^6..], "bob-" + room[^6..], frames);
        await RegisterAsync(owner, names.Owner);
        await RegisterAsync(phone, names.Guest);

        await owner.ClickAsync("#open-settings");
        await owner.ClickAsync("#claim-room");
        await Assertions.Expect(owner.Locator("#users")).ToContainTextAsync("Owner");
        await Assertions.Expect(owner.Locator("#claim-row")).ToBeHiddenAsync();
        await owner.Keyboard.PressAsync("Escape");
        await Assertions.Expect(owner.Locator("#settings-dialog")).ToBeHiddenAsync();
        return (owner, phone, room, names);
    }

    // Registers an account from inside the page with the page's own token; the server then
    // refreshes the page's user (logged in, role Registered), as after the OTT client's register.
    private static async Task RegisterAsync(IPage page, string username)
    {
        var status = await page.EvaluateAsync<int>("""
            async ([username, password]) => {
              const response = await fetch('/api/user/register', {
                method: 'POST',
                headers: { Authorization: `Bearer ${localStorage.getItem('ott.token')}`, 'Content-Type': 'application/json' },
                body: JSON.stringify({ username, password }),
              });
              return response.status;
            }
            """, new[] { username, Password });
        Assert.Equal(201, status);
        await Assertions.Expect(page.Locator("#users")).ToContainTextAsync($"{username} (you)");
        await Assertions.Expect(page.Locator("#users")).ToContainTextAsync("Registered");
    }

    private async Task<JsonObject> GetRoomAsync(string room)
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        http.DefaultRequestHeaders.Add("apikey", OttApplication.ApiKey);
        return JsonNode.Parse(await http.GetStringAsync($"/api/room/{room}"))!.AsObject();
    }

    // Presses Tab from the top of the page (or from the focused element) until the locator has
    // focus: the page is driven by the keyboard alone, and a control Tab cannot reach fails here.
    private static async Task TabToAsync(IPage page, ILocator target, bool fromTop = true)
    {
        if (fromTop)
        {
            await page.EvaluateAsync("() => document.querySelector('.skip-link').focus()");
            if (await target.EvaluateAsync<bool>("e => e === document.activeElement"))
            {
                return;
            }
        }
        for (var i = 0; i < 80; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await target.EvaluateAsync<bool>("e => e === document.activeElement"))
            {
                return;
            }
        }
        Assert.Fail("Tab never reached the control");
    }

    private static async Task BannedAsync(IPage page)
    {
        await Assertions.Expect(page.Locator("#disconnected")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#disconnected-reason")).ToHaveTextAsync("You are banned from this room.");
    }

    private static Task<bool> NoSidewaysScrollAsync(IPage page) =>
        page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth");

    private static Task WaitForNowPlayingAsync(IPage page, string title) =>
        Assertions.Expect(page.Locator("#now-playing")).ToContainTextAsync(title);
}
