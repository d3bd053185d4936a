using System.Text.Json;
using System.Text.Json.Nodes;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // Room settings (docs/protocol.md §6.6).
    private sealed partial class Tx
    {
        private void ApplySettings(Role role, SettingsPatch patch)
        {
            var needed = new List<string>();
            var title = patch.Title is { } t && t != S.Title ? t : null;
            var description = patch.Description is { } d && d != S.Description ? d : null;
            var visibility = patch.Visibility is { } v && v != S.Visibility ? v : (Visibility?)null;
            var queueMode = patch.QueueMode is { } q && q != S.QueueMode ? q : (QueueMode?)null;
            // Categories are compared and stored normalised, whoever built the patch (§6.6).
            var categories = patch.AutoSkipSegmentCategories is { } c && SegmentCategories.Normalize(c) is var normal
                && !normal.SequenceEqual(S.AutoSkipSegmentCategories) ? normal : null;
            var restore = patch.RestoreQueueBehavior is { } r && r != S.RestoreQueueBehavior ? r : (RestoreQueueBehavior?)null;
            var voteSkip = patch.EnableVoteSkip is { } vs && vs != S.EnableVoteSkip ? vs : (bool?)null;
            var wait = patch.WaitForBuffering is { } w && w != S.WaitForBuffering ? w : (double?)null;
            var grantChanges = new Dictionary<Role, int>();
            foreach (var (gRole, mask) in patch.Grants ?? [])
            {
                if (gRole is Role.Administrator or Role.Owner || mask == S.Grants[gRole])
                {
                    continue;
                }
                grantChanges[gRole] = mask;
            }
            if (title is not null) needed.Add(Permissions.SetTitle);
            if (description is not null) needed.Add(Permissions.SetDescription);
            if (visibility is not null) needed.Add(Permissions.SetVisibility);
            if (queueMode is not null) needed.Add(Permissions.SetQueueMode);
            if (categories is not null || restore is not null || voteSkip is not null || wait is not null) needed.Add(Permissions.Other);
            needed.AddRange(grantChanges.Keys.Order().Select(Permissions.SetPermissionsFor));
            foreach (var permission in needed)
            {
                Gate(role, permission);
            }
            S = S with
            {
                Title = title ?? S.Title,
                Description = description ?? S.Description,
                Visibility = visibility ?? S.Visibility,
                QueueMode = queueMode ?? S.QueueMode,
                AutoSkipSegmentCategories = categories ?? S.AutoSkipSegmentCategories,
                RestoreQueueBehavior = restore ?? S.RestoreQueueBehavior,
                EnableVoteSkip = voteSkip ?? S.EnableVoteSkip,
                WaitForBuffering = wait ?? S.WaitForBuffering,
                Grants = grantChanges.Count > 0 ? S.Grants.With(grantChanges) : S.Grants,
            };
            AuditSettings(title, description, visibility, queueMode, categories, restore, voteSkip, wait, grantChanges);
            if (wait == 0 && S.Hold is not null)
            {
                EndHold();
            }
            if (voteSkip == false)
            {
                S = S with { VotesToSkip = [] };
            }
            if (categories is { IsEmpty: false } && S.VideoSegments.IsEmpty && S.CurrentSource is not null)
            {
                MaybeFetchSegments();
            }
        }

        // One "settings" entry with the changed values, and one "permissions" entry with the changed roles' masks.
        private void AuditSettings(string? title, string? description, Visibility? visibility, QueueMode? queueMode,
            System.Collections.Immutable.ImmutableList<string>? categories, RestoreQueueBehavior? restore, bool? voteSkip, double? wait,
            Dictionary<Role, int> grantChanges)
        {
            var changed = new JsonObject();
            if (title is not null) changed["title"] = title;
            if (description is not null) changed["description"] = description;
            if (visibility is { } v) changed["visibility"] = JsonSerializer.SerializeToNode(v, StateJsonContext.Default.Visibility);
            if (queueMode is { } q) changed["queueMode"] = JsonSerializer.SerializeToNode(q, StateJsonContext.Default.QueueMode);
            if (categories is not null) changed["autoSkipSegmentCategories"] = new JsonArray([.. categories.Select(c => (JsonNode?)c)]);
            if (restore is { } r) changed["restoreQueueBehavior"] = JsonSerializer.SerializeToNode(r, StateJsonContext.Default.RestoreQueueBehavior);
            if (voteSkip is { } vs) changed["enableVoteSkip"] = vs;
            if (wait is { } w) changed["waitForBuffering"] = w;
            if (changed.Count > 0)
            {
                Audit(AuditActions.Settings, null, changed);
            }
            if (grantChanges.Count > 0)
            {
                var grants = new JsonArray([.. grantChanges.Keys.Order().Select(role => (JsonNode?)new JsonArray((int)role, S.Grants[role]))]);
                Audit(AuditActions.Permissions, null, new JsonObject { ["grants"] = grants });
            }
        }
    }
}
