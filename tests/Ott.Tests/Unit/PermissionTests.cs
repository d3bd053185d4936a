using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

public class PermissionTests
{
    private static JsonTypeInfo<Grants> GrantsInfo => (JsonTypeInfo<Grants>)ProtocolJsonContext.Default.GetTypeInfo(typeof(Grants))!;

    private static string GrantsJson(Grants grants) => JsonSerializer.Serialize(grants, GrantsInfo);

    private static Grants ReadGrants(string json) => JsonSerializer.Deserialize(json, GrantsInfo)!;

    [Fact]
    public void TheDefaultGrantsSyncAsTheDocumentedVector()
    {
        Assert.Equal("[[0,113250303],[1,113250303],[2,113250303],[3,267390975],[4,536870911],[-1,536870911]]", GrantsJson(Grants.Default));

        var sync = new TestRoom().Json(new FullSyncFrame(RoomState.Create("r", true, TestRoom.T0)));
        Assert.Equal("[[0,113250303],[1,113250303],[2,113250303],[3,267390975],[4,536870911],[-1,536870911]]", sync["grants"]!.ToJsonString());
    }

    [Fact]
    public void MasksOfPermissionsAndGroups()
    {
        Assert.Equal(1 | 8 | 128, Permissions.Mask(Permissions.PlayPause, Permissions.Add, Permissions.Chat));
        Assert.Equal(1 | 2 | 4 | 8388608, Permissions.Mask("playback"));
        Assert.Equal(536870911, Permissions.Mask("*"));
        Assert.Equal(536870911, Permissions.AllBits);
        Assert.Equal(29, Permissions.Names.Count());
        var bit = 0;
        foreach (var name in Permissions.Names)
        {
            Assert.Equal(1 << bit++, Permissions.Mask(name));
        }
    }

    [Fact]
    public void OnlySetBitsAreGrantedAndANullOrEmptyNameNeverIs()
    {
        var mask = Permissions.Mask(Permissions.PlayPause, Permissions.Chat);

        Assert.True(Permissions.IsGranted(mask, Permissions.PlayPause));
        Assert.True(Permissions.IsGranted(mask, Permissions.Chat));
        Assert.False(Permissions.IsGranted(mask, Permissions.Skip));
        Assert.False(Permissions.IsGranted(Permissions.AllBits, null));
        Assert.False(Permissions.IsGranted(Permissions.AllBits, ""));
        Assert.False(Permissions.IsGranted(Permissions.AllBits, "no-such-permission"));
    }

    [Fact]
    public void AGroupIsGrantedOnlyIfAllItsBitsAre()
    {
        var playbackButSpeed = Permissions.Mask(Permissions.PlayPause, Permissions.Skip, Permissions.Seek);

        Assert.False(Permissions.IsGranted(playbackButSpeed, "playback"));
        Assert.True(Permissions.IsGranted(playbackButSpeed | Permissions.Mask(Permissions.Speed), "playback"));
    }

    [Fact]
    public void AHigherRoleHasAllLowerRolesBits()
    {
        var grants = Grants.FromOwnMasks(new Dictionary<Role, int>
        {
            [Role.Unregistered] = Permissions.Mask(Permissions.Chat),
            [Role.Registered] = Permissions.Mask(Permissions.Add),
            [Role.Trusted] = 0,
            [Role.Moderator] = Permissions.Mask(Permissions.Kick),
        });

        Assert.Equal(128, grants[Role.Unregistered]);
        Assert.Equal(128 | 8, grants[Role.Registered]);
        Assert.Equal(128 | 8, grants[Role.Trusted]); // mask 0: only what it inherits
        Assert.Equal(128 | 8 | 16777216, grants[Role.Moderator]);
        Assert.Equal(Permissions.AllBits, grants[Role.Administrator]);
        Assert.Equal(Permissions.AllBits, grants[Role.Owner]);
    }

    [Fact]
    public void ValidationMasksTrimBitsAboveTheRole()
    {
        Assert.Equal(113250303, Permissions.ValidationMask(Role.Unregistered));
        Assert.Equal(113283071, Permissions.ValidationMask(Role.Registered));
        Assert.Equal(133222399, Permissions.ValidationMask(Role.Trusted));
        Assert.Equal(134017023 | 134217728 | 268435456, Permissions.ValidationMask(Role.Moderator));
        Assert.Equal(Permissions.AllBits, Permissions.ValidationMask(Role.Administrator));
        Assert.Equal(Permissions.AllBits, Permissions.ValidationMask(Role.Owner));
        foreach (var b in new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 22 })
        {
            Assert.NotEqual(0, Permissions.ValidationMask(Role.Unregistered) & (1 << b));
        }
        foreach (var b in new[] { 13, 14, 15 })
        {
            Assert.NotEqual(0, Permissions.ValidationMask(Role.Moderator) & (1 << b));
        }

        var trimmed = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = Permissions.AllBits });
        Assert.Equal(113250303, trimmed[Role.Unregistered]);
    }

    [Fact]
    public void GrantsSerialiseAsPairsAndRoundTrip()
    {
        var grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = 1234, [Role.Moderator] = 8192 });
        var json = GrantsJson(grants);

        Assert.Equal("[[0,1234],[1,1234],[2,1234],[3,9426],[4,536870911],[-1,536870911]]", json);
        Assert.Equal(grants, ReadGrants(json));
        Assert.Equal(1234, ReadGrants("[[0,5330]]")[Role.Unregistered]); // bit 12 trimmed by validation
    }

    [Fact]
    public void WithTheDefaultGrantsRoleZeroIsDeniedPromoteModerator()
    {
        Assert.False(Permissions.IsGranted(Grants.Default, Role.Unregistered, Permissions.PromoteModerator));
        Assert.True(Permissions.IsGranted(Grants.Default, Role.Moderator, Permissions.PromoteTrusted));
        Assert.True(Permissions.IsGranted(Grants.Default, Role.Moderator, Permissions.Kick));
        Assert.False(Permissions.IsGranted(Grants.Default, Role.Moderator, Permissions.PromoteModerator));
    }

    // ----- roles of users -----

    [Fact]
    public void RolesFollowOwnerThenUserRolesThenLogin()
    {
        var room = new TestRoom();
        room.State = room.State with { Owner = new RoomOwner(1, "owner"), UserRoles = UserRoles.Empty.Assign(2, Role.Administrator).Assign(3, Role.Moderator).Assign(4, Role.Trusted) };

        Assert.Equal(Role.Owner, room.RoleOf(room.Join("o", 1)));
        Assert.Equal(Role.Administrator, room.RoleOf(room.Join("a", 2)));
        Assert.Equal(Role.Moderator, room.RoleOf(room.Join("m", 3)));
        Assert.Equal(Role.Trusted, room.RoleOf(room.Join("t", 4)));
        Assert.Equal(Role.Registered, room.RoleOf(room.Join("r", 5)));
        Assert.Equal(Role.Unregistered, room.RoleOf(room.Join("anon")));
        Assert.Equal(Role.Unregistered, RoomRoles.RoleOf(room.State, false, 1)); // roles belong to accounts
    }

    [Fact]
    public void InARoomWithoutAnOwnerAnAnonymousSessionIsRoleZero()
    {
        var room = new TestRoom();
        var anon = room.Join("anon");

        Assert.Equal(Role.Unregistered, room.RoleOf(anon));
        Assert.Equal(0, room.SingleEvent(room.Last)["user"]!["role"]!.GetValue<int>());
    }

    // ----- promote (§7.5) -----

    private static (TestRoom Room, string Owner, string Anon, string Registered) PromoteRoom()
    {
        var room = new TestRoom();
        room.State = room.State with { Owner = new RoomOwner(1, "owner") };
        return (room, room.Join("owner", 1), room.Join("anon"), room.Join("reg", 7));
    }

    [Fact]
    public void PromotingAnAnonymousTargetToRoleOneIsImpossible()
    {
        var (room, _, anon, _) = PromoteRoom();
        var other = room.Join("other");

        room.Promote(other, anon, 1).Fails("ImpossiblePromotionException", "Can't promote/demote unregistered user");
    }

    [Fact]
    public void ARoleZeroActorPromotingAnyoneToTrustedOrAboveIsDenied()
    {
        var (room, _, anon, registered) = PromoteRoom();
        var actor = room.Join("other");

        room.Promote(actor, anon, 2).Fails("PermissionDeniedException", "Permission denied: manage-users.promote-trusted-user");
        room.Promote(actor, registered, 3).Fails("PermissionDeniedException", "Permission denied: manage-users.promote-moderator");
        room.Promote(actor, registered, 4).Fails("PermissionDeniedException", "Permission denied: manage-users.promote-admin");
    }

    [Fact]
    public void TheOwnerPromotesARegisteredUserAndEveryConnectionOfTheAccountIsUpdated()
    {
        var (room, owner, _, registered) = PromoteRoom();
        var secondTab = room.Join("reg", 7);

        room.Promote(owner, registered, 3).Succeeds();

        Assert.Equal([7L], room.State.UserRoles.Moderator);
        Assert.Equal(Role.Moderator, room.RoleOf(secondTab));
        var updated = room.Broadcasts().OfType<UserUpdateFrame>().Select(u => u.User).ToList();
        Assert.Equal([registered, secondTab], updated.Select(u => u.Id));
        Assert.All(updated, u => Assert.Equal(Role.Moderator, u.Role));
        Assert.Empty(room.Events());

        room.Promote(owner, registered, 2).Succeeds(); // a demotion from Moderator
        Assert.Empty(room.State.UserRoles.Moderator);
        Assert.Equal([7L], room.State.UserRoles.Trusted);

        room.Promote(owner, registered, 1).Succeeds();
        Assert.Empty(room.State.UserRoles.Trusted);
        Assert.Equal(Role.Registered, room.RoleOf(registered));
    }

    [Fact]
    public void DemotingARegisteredUserOrTheOwnerIsImpossible()
    {
        var (room, owner, _, registered) = PromoteRoom();
        room.State = room.State with { UserRoles = UserRoles.Empty.Assign(9, Role.Administrator) };
        var admin = room.Join("admin", 9);

        room.Promote(owner, registered, 0).Fails("ImpossiblePromotionException");
        room.Promote(admin, owner, 1).Fails("ImpossiblePromotionException");
    }

    [Fact]
    public void PromotingAnUnknownTargetIsClientNotFound()
    {
        var (room, owner, _, _) = PromoteRoom();

        room.Promote(owner, "nobody", 2).Fails("ClientNotFoundInRoomException");
    }

    // ----- kick (§7.6) -----

    [Theory]
    [InlineData(Role.Owner, Role.Administrator, true)]
    [InlineData(Role.Administrator, Role.Owner, false)]
    [InlineData(Role.Administrator, Role.Administrator, false)]
    [InlineData(Role.Administrator, Role.Moderator, true)]
    [InlineData(Role.Trusted, Role.Unregistered, true)]
    [InlineData(Role.Unregistered, Role.Administrator, false)]
    [InlineData(Role.Moderator, Role.Trusted, true)]
    [InlineData(Role.Moderator, Role.Moderator, false)]
    [InlineData(Role.Owner, Role.Unregistered, true)]
    public void KicksFollowTheRoleTable(Role actorRole, Role targetRole, bool allowed)
    {
        var room = new TestRoom();
        // Everyone may kick, so only the §7.6 rule decides.
        room.State = room.State with { Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = 113250303, [Role.Trusted] = Permissions.Mask(Permissions.Kick) }) };
        var actor = JoinAs(room, actorRole, 100);
        var target = JoinAs(room, targetRole, 200);

        var outcome = room.Kick(actor, target);

        if (allowed)
        {
            outcome.Succeeds();
            var close = Assert.Single(outcome.Outputs.OfType<CloseClient>());
            Assert.Equal(target, close.ClientId);
            Assert.Equal(4005, close.Code);
            Assert.Empty(room.Events());
        }
        else
        {
            outcome.Fails("PermissionDeniedException", "Permission denied: manage-users.kick");
        }
        Assert.Contains(room.State.Users, u => u.ClientId == target); // the disconnect removes the target later
    }

    private static string JoinAs(TestRoom room, Role role, long accountId)
    {
        switch (role)
        {
            case Role.Unregistered:
                return room.Join("anon");
            case Role.Owner:
                room.State = room.State with { Owner = new RoomOwner(accountId, "owner") };
                break;
            case Role.Trusted or Role.Moderator or Role.Administrator:
                room.State = room.State with { UserRoles = room.State.UserRoles.Assign(accountId, role) };
                break;
        }
        var id = room.Join($"user{accountId}", accountId);
        Assert.Equal(role, room.RoleOf(id));
        return id;
    }

    [Fact]
    public void KickNeedsManageUsersKick()
    {
        var room = new TestRoom();
        room.State = room.State with { Owner = null };
        var a = room.Join("a", accountId: 5);
        room.State = room.State with { UserRoles = room.State.UserRoles.Assign(5, Role.Trusted) };
        var b = room.Join("b");

        room.Kick(a, b).Fails("PermissionDeniedException", "Permission denied: manage-users.kick"); // default grants: Moderator up
        room.Kick(a, "nobody").Fails("PermissionDeniedException");
    }

    [Fact]
    public void KickingAnUnknownClientIsClientNotFound()
    {
        var room = new TestRoom();
        room.State = room.State with { Owner = new RoomOwner(1, "o") };
        var owner = room.Join("o", 1);

        room.Kick(owner, "nobody").Fails("ClientNotFoundInRoomException");
    }

    // ----- RestoreQueue gate -----

    [Fact]
    public void RestoreQueueNeedsManageQueueAdd()
    {
        var room = new TestRoom();
        room.State = room.State with
        {
            PrevQueue = [TestRoom.Item("v1")],
            Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = Grants.Default[Role.Unregistered] & ~Permissions.Mask(Permissions.Add) }),
        };
        var a = room.Join("a");

        room.RestoreQueue(a).Fails("PermissionDeniedException", "Permission denied: manage-queue.add");
        Assert.NotNull(room.State.PrevQueue);
    }

    [Fact]
    public void APermissionFailureNamesThePermission()
    {
        var room = new TestRoom().WithMedia("v1");
        room.State = room.State with { Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = 0 }) };
        var a = room.Join("a");

        room.Play(a).Fails("PermissionDeniedException", "Permission denied: playback.play-pause");
        room.Skip(a).Fails("PermissionDeniedException", "Permission denied: playback.skip");
        room.Seek(a, 1).Fails("PermissionDeniedException", "Permission denied: playback.seek");
        room.Add(a, "v2").Fails("PermissionDeniedException", "Permission denied: manage-queue.add");
        room.Chat(a, "hi").Fails("PermissionDeniedException", "Permission denied: chat");
        room.Speed(a, 2).Fails("PermissionDeniedException", "Permission denied: playback.speed");
        room.PlayNow(a, "v2").Fails("PermissionDeniedException", "Permission denied: manage-queue.play-now");
        room.Edit(a, "v1", "{}").Fails("PermissionDeniedException", "Permission denied: manage-queue.edit");
        room.Vote(a, "v1").Fails("PermissionDeniedException", "Permission denied: manage-queue.vote");
        room.Remove(a, "v1").Fails("PermissionDeniedException", "Permission denied: manage-queue.remove");
        room.Order(a, 0, 0).Fails("PermissionDeniedException", "Permission denied: manage-queue.order");
    }
}
