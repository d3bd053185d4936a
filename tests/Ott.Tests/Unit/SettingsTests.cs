using System.Text.Json.Nodes;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

public class SettingsTests
{
    private const string DefaultVector = "[[0,113250303],[1,113250303],[2,113250303],[3,267390975],[4,536870911],[-1,536870911]]";

    [Fact]
    public void ARoleZeroCallerSendingTheFullUnchangedGrantsVectorWithATitleChangesOnlyTheTitle()
    {
        var room = new TestRoom();
        var anon = room.Join("anon");

        room.Settings(anon, $$"""{"title":"New title","grants":{{DefaultVector}}}""").Succeeds();

        Assert.Equal("New title", room.State.Title);
        Assert.Equal(Grants.Default, room.State.Grants);
        Assert.Empty(room.Events());
    }

    [Fact]
    public void PairsForRolesFourAndOwnerAreDroppedWhateverTheirMasks()
    {
        var room = new TestRoom();
        var anon = room.Join("anon");

        room.Settings(anon, """{"title":"t","grants":[[0,113250303],[1,113250303],[2,113250303],[3,267390975],[4,1],[-1,0]]}""").Succeeds();

        Assert.Equal("t", room.State.Title);
        Assert.Equal(Grants.Default, room.State.Grants);
    }

    [Fact]
    public void PairsAreComparedWithTheStoredCumulativeMasks()
    {
        var room = new TestRoom();
        room.State = room.State with { Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = 1234, [Role.Moderator] = 4096 | 8192 }) };
        var anon = room.Join("anon");
        var cumulative = string.Join(",", room.State.Grants.Pairs().Select(p => $"[{(int)p.Role},{p.Mask}]"));

        room.Settings(anon, $$"""{"visibility":"public","grants":[{{cumulative}}]}""").Succeeds(); // 1234 holds set-visibility

        Assert.Equal(Visibility.Public, room.State.Visibility);
    }

    [Fact]
    public void ChangingAMaskWithoutItsSetPermissionsBitIsDeniedAndNothingIsApplied()
    {
        var room = new TestRoom();
        var anon = room.Join("anon");

        room.Settings(anon, """{"title":"x","grants":[[0,1],[1,113250303]]}""")
            .Fails("PermissionDeniedException", "Permission denied: configure-room.set-permissions.for-all-unregistered-users");

        Assert.Equal("", room.State.Title);
        Assert.Equal(Grants.Default, room.State.Grants);
    }

    [Fact]
    public void AnAdministratorChangesAMaskValidatedAndInherited()
    {
        var room = new TestRoom();
        room.State = room.State with { UserRoles = UserRoles.Empty.Assign(9, Role.Administrator) };
        var admin = room.Join("admin", 9);

        room.Settings(admin, $$"""{"grants":[[0,{{1234 | 4096}}]]}""").Succeeds();

        Assert.Equal(1234, room.State.Grants[Role.Unregistered]);
        Assert.Equal(1234, room.State.Grants[Role.Registered] & 1234);
        Assert.Equal(Permissions.AllBits, room.State.Grants[Role.Administrator]);
        Assert.True(room.Delta().ContainsKey("grants"));
    }

    [Fact]
    public void WithoutGrantsCustomGrantsAreLeftAlone()
    {
        var room = new TestRoom();
        var custom = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = Grants.Default[Role.Unregistered] & ~Permissions.Mask(Permissions.Kick, Permissions.Chat) });
        room.State = room.State with { Grants = custom };
        var anon = room.Join("anon");

        room.Settings(anon, """{"title":"x"}""").Succeeds();

        Assert.Same(custom, room.State.Grants);
    }

    [Theory]
    [InlineData("""{"title":"x"}""", "configure-room.set-title")]
    [InlineData("""{"description":"x"}""", "configure-room.set-description")]
    [InlineData("""{"visibility":"public"}""", "configure-room.set-visibility")]
    [InlineData("""{"queueMode":"vote"}""", "configure-room.set-queue-mode")]
    [InlineData("""{"enableVoteSkip":true}""", "configure-room.other")]
    [InlineData("""{"restoreQueueBehavior":0}""", "configure-room.other")]
    [InlineData("""{"autoSkipSegmentCategories":["sponsor"]}""", "configure-room.other")]
    public void ASettingWithoutItsPermissionIsDeniedAndNothingIsApplied(string settings, string permission)
    {
        var room = new TestRoom();
        var denied = Grants.Default[Role.Unregistered] & ~Permissions.Mask(permission);
        room.State = room.State with { Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = denied }) };
        var anon = room.Join("anon");
        var patch = JsonNode.Parse(settings)!.AsObject();
        patch["title"] ??= "changed too"; // a permitted setting in the same request is not applied either
        if (permission == Permissions.SetTitle)
        {
            patch["description"] = "changed too";
        }
        var before = room.State;

        room.Settings(anon, patch.ToJsonString()).Fails("PermissionDeniedException", $"Permission denied: {permission}");

        Assert.Same(before, room.State);
    }

    [Fact]
    public void ASettingEqualToItsCurrentValueNeedsNoPermission()
    {
        var room = new TestRoom();
        room.State = room.State with { Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = 0 }) };
        var anon = room.Join("anon");

        room.Settings(anon, """{"title":"","visibility":"unlisted","queueMode":"manual","enableVoteSkip":false,"restoreQueueBehavior":1}""").Succeeds();
    }

    [Theory]
    [InlineData("""["sponsor","sponsor","sponsor"]""", """["sponsor"]""")]
    [InlineData("""["intro","intro","outro"]""", """["intro","outro"]""")]
    [InlineData("""["preview","music_offtopic","selfpromo","interaction","outro","intro","sponsor"]""", """["sponsor","intro","outro","interaction","selfpromo","music_offtopic","preview"]""")]
    [InlineData("[]", "[]")]
    public void CategoriesAreStoredUniqueAndCanonical(string sent, string stored)
    {
        var room = new TestRoom();
        room.State = room.State with { AutoSkipSegmentCategories = ["outro"] };
        var anon = room.Join("anon");

        room.Settings(anon, $$"""{"autoSkipSegmentCategories":{{sent}}}""").Succeeds();

        Assert.Equal(stored, room.Json(new FullSyncFrame(room.State))["autoSkipSegmentCategories"]!.ToJsonString());
    }

    [Fact]
    public void CategoriesEqualToTheStoredOnesAfterNormalisingNeedNoPermission()
    {
        var room = new TestRoom();
        room.State = room.State with
        {
            AutoSkipSegmentCategories = ["intro", "outro"],
            Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = Permissions.Mask(Permissions.SetTitle) }),
        };
        var anon = room.Join("anon");
        var patch = new SettingsPatch { AutoSkipSegmentCategories = ["outro", "intro", "intro"], Title = "t" };

        room.Run(new RequestCommand(TestRoom.ActorOf(room.User(anon)), new ApplySettingsRequest(patch))).Succeeds();

        Assert.Equal(["intro", "outro"], room.State.AutoSkipSegmentCategories);
        Assert.Equal("t", room.State.Title);
    }

    [Fact]
    public void SettingsChangesAreSyncedIncludingRestoreQueueBehavior()
    {
        var room = new TestRoom();
        var anon = room.Join("anon");

        room.Settings(anon, """{"restoreQueueBehavior":0,"enableVoteSkip":true,"queueMode":"loop","visibility":"public","description":"d"}""").Succeeds();

        var delta = room.Delta();
        Assert.Equal(0, delta["restoreQueueBehavior"]!.GetValue<int>());
        Assert.True(delta["enableVoteSkip"]!.GetValue<bool>());
        Assert.Equal("loop", delta["queueMode"]!.GetValue<string>());
        Assert.Equal("public", delta["visibility"]!.GetValue<string>());
        Assert.Equal("d", delta["description"]!.GetValue<string>());
    }

    [Fact]
    public void ChangingCategoriesWithSomethingCurrentAndNoSegmentsFetchesSegments()
    {
        var room = new TestRoom().WithMedia("v1");
        room.State = room.State with { AutoSkipSegmentCategories = [] };
        var anon = room.Join("anon");

        room.Settings(anon, """{"autoSkipSegmentCategories":["intro"]}""").Succeeds();

        var fetch = Assert.Single(room.Last.Outputs.OfType<FetchSegments>());
        Assert.Equal("v1", fetch.Item.Id);
        Assert.Equal(["intro"], fetch.Categories);
    }
}
