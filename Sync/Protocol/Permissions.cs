using System.Collections.Frozen;

namespace Ott.Sync.Protocol;

/// <summary>OTT's 27 permission bits, Ott's bits 27 and 28 (ban, audit log), and their rules (docs/protocol.md §7).</summary>
public static class Permissions
{
    public const string PlayPause = "playback.play-pause";
    public const string Skip = "playback.skip";
    public const string Seek = "playback.seek";
    public const string Add = "manage-queue.add";
    public const string Remove = "manage-queue.remove";
    public const string Order = "manage-queue.order";
    public const string Vote = "manage-queue.vote";
    public const string Chat = "chat";
    public const string SetTitle = "configure-room.set-title";
    public const string SetDescription = "configure-room.set-description";
    public const string SetVisibility = "configure-room.set-visibility";
    public const string SetQueueMode = "configure-room.set-queue-mode";
    public const string SetPermissionsModerator = "configure-room.set-permissions.for-moderator";
    public const string SetPermissionsTrusted = "configure-room.set-permissions.for-trusted-users";
    public const string SetPermissionsRegistered = "configure-room.set-permissions.for-all-registered-users";
    public const string SetPermissionsUnregistered = "configure-room.set-permissions.for-all-unregistered-users";
    public const string PromoteAdmin = "manage-users.promote-admin";
    public const string DemoteAdmin = "manage-users.demote-admin";
    public const string PromoteModerator = "manage-users.promote-moderator";
    public const string DemoteModerator = "manage-users.demote-moderator";
    public const string PromoteTrusted = "manage-users.promote-trusted-user";
    public const string DemoteTrusted = "manage-users.demote-trusted-user";
    public const string Other = "configure-room.other";
    public const string Speed = "playback.speed";
    public const string Kick = "manage-users.kick";
    public const string PlayNow = "manage-queue.play-now";
    public const string Edit = "manage-queue.edit";

    // Ott extensions (docs/protocol.md §10): OTT clients ignore bits they do not know.
    public const string Ban = "manage-users.ban";
    public const string ViewAuditLog = "manage-users.view-audit-log";

    // (name, minimum role) in bit order.
    private static readonly (string Name, Role MinRole)[] Bits =
    [
        (PlayPause, Role.Unregistered), (Skip, Role.Unregistered), (Seek, Role.Unregistered),
        (Add, Role.Unregistered), (Remove, Role.Unregistered), (Order, Role.Unregistered),
        (Vote, Role.Unregistered), (Chat, Role.Unregistered), (SetTitle, Role.Unregistered),
        (SetDescription, Role.Unregistered), (SetVisibility, Role.Unregistered), (SetQueueMode, Role.Unregistered),
        (SetPermissionsModerator, Role.Administrator), (SetPermissionsTrusted, Role.Moderator),
        (SetPermissionsRegistered, Role.Trusted), (SetPermissionsUnregistered, Role.Registered),
        (PromoteAdmin, Role.Administrator), (DemoteAdmin, Role.Administrator),
        (PromoteModerator, Role.Moderator), (DemoteModerator, Role.Moderator),
        (PromoteTrusted, Role.Trusted), (DemoteTrusted, Role.Trusted),
        (Other, Role.Unregistered), (Speed, Role.Unregistered), (Kick, Role.Trusted),
        (PlayNow, Role.Unregistered), (Edit, Role.Unregistered),
        (Ban, Role.Moderator), (ViewAuditLog, Role.Moderator),
    ];

    public const int AllBits = (1 << 29) - 1;

    private static readonly FrozenDictionary<string, int> ByName =
        Bits.Select((b, i) => (b.Name, Mask: 1 << i)).ToFrozenDictionary(b => b.Name, b => b.Mask);

    public static IEnumerable<string> Names => Bits.Select(b => b.Name);

    /// <summary>The mask of a permission or a prefix group; 0 for a null, empty or unknown name.</summary>
    public static int Mask(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return 0;
        }
        if (name == "*")
        {
            return AllBits;
        }
        if (ByName.TryGetValue(name, out var mask))
        {
            return mask;
        }
        var group = 0;
        foreach (var (n, m) in ByName)
        {
            if (n.StartsWith(name + ".", StringComparison.Ordinal))
            {
                group |= m;
            }
        }
        return group;
    }

    public static int Mask(params string[] names) => names.Aggregate(0, (acc, n) => acc | Mask(n));

    /// <summary>The check of docs/protocol.md §7.1; a null, empty or unknown name is never granted.</summary>
    public static bool IsGranted(int roleMask, string? permission)
    {
        var mask = Mask(permission);
        return mask != 0 && (roleMask & mask) == mask;
    }

    public static bool IsGranted(Grants grants, Role role, string? permission) => IsGranted(grants[role], permission);

    /// <summary>OR of the permissions whose minimum role is at most <paramref name="role"/>.</summary>
    public static int ValidationMask(Role role)
    {
        if (role is Role.Owner or Role.Administrator)
        {
            return AllBits;
        }
        var mask = 0;
        for (var i = 0; i < Bits.Length; i++)
        {
            if (Bits[i].MinRole <= role)
            {
                mask |= 1 << i;
            }
        }
        return mask;
    }

    /// <summary>The set-permissions bit needed to change <paramref name="role"/>'s mask (roles 0–3).</summary>
    public static string SetPermissionsFor(Role role) => role switch
    {
        Role.Unregistered => SetPermissionsUnregistered,
        Role.Registered => SetPermissionsRegistered,
        Role.Trusted => SetPermissionsTrusted,
        Role.Moderator => SetPermissionsModerator,
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };
}
