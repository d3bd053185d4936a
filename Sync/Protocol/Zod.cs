using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ott.Sync.Protocol;

/// <summary>One schema issue in OTT's (Zod's) shape: code, message, path (docs/protocol.md §4.1).</summary>
public sealed record ZodIssue(string Code, string Message, ImmutableArray<object> Path)
{
    public JsonObject? Extra { get; init; }

    /// <summary>A check issue (length, refinement, unknown key) rather than a type issue.</summary>
    public bool IsCheck => Code is "too_small" or "too_big" or "custom" or "unrecognized_keys" or "invalid_string";

    public string FieldName => Path.IsEmpty ? "" : string.Join('.', Path);

    public JsonObject ToJson()
    {
        var obj = new JsonObject { ["code"] = Code };
        if (Extra is not null)
        {
            foreach (var (k, v) in Extra)
            {
                obj[k] = v?.DeepClone();
            }
        }
        obj["message"] = Message;
        var path = new JsonArray();
        foreach (var p in Path)
        {
            path.Add(p is int i ? JsonValue.Create(i) : JsonValue.Create((string)p));
        }
        obj["path"] = path;
        return obj;
    }

    /// <summary>`issue at "path"`; a path of one number reads `at index N`; no path, no suffix.</summary>
    public string Describe() => Path.Length switch
    {
        0 => Message,
        1 when Path[0] is int i => $"{Message} at index {i}",
        _ => $"{Message} at \"{string.Join('.', Path.Select(p => Convert.ToString(p, CultureInfo.InvariantCulture)))}\"",
    };
}

/// <summary>Zod-compatible checks and messages, built by hand for the few shapes OTT validates.</summary>
public static class Zod
{
    public static string TypeName(JsonNode? node) => node?.GetValueKind() switch
    {
        null or JsonValueKind.Null => "null",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        _ => "unknown",
    };

    public static ZodIssue InvalidType(string expected, JsonNode? received, params object[] path) =>
        new("invalid_type", $"Expected {expected}, received {TypeName(received)}", [.. path])
        {
            Extra = new JsonObject { ["expected"] = expected, ["received"] = TypeName(received) },
        };

    public static ZodIssue Required(string expected, params object[] path) =>
        new("invalid_type", "Required", [.. path])
        {
            Extra = new JsonObject { ["expected"] = expected, ["received"] = "undefined" },
        };

    public static ZodIssue InvalidEnum(IEnumerable<string> options, JsonNode? received, params object[] path)
    {
        var list = options.ToList();
        var shown = received?.GetValueKind() == JsonValueKind.String ? received.GetValue<string>() : received?.ToJsonString() ?? "null";
        return new("invalid_enum_value",
            $"Invalid enum value. Expected {string.Join(" | ", list.Select(o => $"'{o}'"))}, received '{shown}'", [.. path])
        {
            Extra = new JsonObject { ["options"] = new JsonArray([.. list.Select(o => (JsonNode?)JsonValue.Create(o))]) },
        };
    }

    public static ZodIssue TooBig(int maximum, string message, params object[] path) =>
        new("too_big", message, [.. path])
        {
            Extra = new JsonObject { ["maximum"] = maximum, ["type"] = "string", ["inclusive"] = true, ["exact"] = false },
        };

    public static ZodIssue TooSmall(int minimum, string message, params object[] path) =>
        new("too_small", message, [.. path])
        {
            Extra = new JsonObject { ["minimum"] = minimum, ["type"] = "string", ["inclusive"] = true, ["exact"] = false },
        };

    public static ZodIssue Custom(string message, params object[] path) => new("custom", message, [.. path]);

    public static ZodIssue UnrecognizedKeys(IEnumerable<string> keys)
    {
        var list = keys.ToList();
        return new("unrecognized_keys", $"Unrecognized key(s) in object: {string.Join(", ", list.Select(k => $"'{k}'"))}", [])
        {
            Extra = new JsonObject { ["keys"] = new JsonArray([.. list.Select(k => (JsonNode?)JsonValue.Create(k))]) },
        };
    }

    /// <summary>"Validation error: &lt;issue&gt; at "path"; …" (docs/protocol.md §4.1).</summary>
    public static string Message(IEnumerable<ZodIssue> issues) =>
        "Validation error: " + string.Join("; ", issues.Select(i => i.Describe()));

    public static bool IsString(JsonNode? n) => n?.GetValueKind() == JsonValueKind.String;
    public static bool IsBool(JsonNode? n) => n?.GetValueKind() is JsonValueKind.True or JsonValueKind.False;
    public static bool IsNumber(JsonNode? n) => n?.GetValueKind() == JsonValueKind.Number;

    public static bool TryGetDouble(JsonNode? n, out double value)
    {
        value = 0;
        return IsNumber(n) && n!.AsValue().TryGetValue(out value) && double.IsFinite(value);
    }

    public static bool TryGetInt(JsonNode? n, out int value)
    {
        value = 0;
        if (!TryGetDouble(n, out var d) || d != Math.Floor(d) || d < int.MinValue || d > int.MaxValue)
        {
            return false;
        }
        value = (int)d;
        return true;
    }
}

/// <summary>The strict settings shape of PATCH /api/room/:name and ApplySettings (docs/protocol.md §4.3, §6.6).</summary>
public static class SettingsSchema
{
    private static readonly string[] Keys =
        ["title", "description", "visibility", "queueMode", "grants", "autoSkipSegmentCategories", "restoreQueueBehavior", "enableVoteSkip", "waitForBuffering"];

    public static readonly string[] VisibilityNames = ["public", "unlisted", "private"];
    public static readonly string[] QueueModeNames = ["manual", "vote", "loop", "dj"];

    public static (SettingsPatch? Patch, List<ZodIssue> Issues) Parse(JsonObject body, int maxTitle = 254, bool strict = true)
    {
        var issues = new List<ZodIssue>();
        var patch = new SettingsPatch();

        if (body.TryGetPropertyValue("title", out var title))
        {
            if (!Zod.IsString(title)) issues.Add(Zod.InvalidType("string", title, "title"));
            else
            {
                var t = title!.GetValue<string>();
                if (t.Length > maxTitle) issues.Add(Zod.TooBig(maxTitle, $"String must contain at most {maxTitle} character(s)", "title"));
                if (t.Contains('\n') || t.Contains('\r')) issues.Add(Zod.Custom("title must not contain newlines", "title"));
                patch = patch with { Title = t };
            }
        }
        if (body.TryGetPropertyValue("description", out var description))
        {
            if (!Zod.IsString(description)) issues.Add(Zod.InvalidType("string", description, "description"));
            else patch = patch with { Description = description!.GetValue<string>() };
        }
        if (body.TryGetPropertyValue("visibility", out var visibility))
        {
            var v = ParseVisibility(visibility, issues, "visibility");
            patch = patch with { Visibility = v };
        }
        if (body.TryGetPropertyValue("queueMode", out var queueMode))
        {
            var q = ParseQueueMode(queueMode, issues, "queueMode");
            patch = patch with { QueueMode = q };
        }
        if (body.TryGetPropertyValue("grants", out var grants))
        {
            patch = patch with { Grants = ParseGrants(grants, issues) };
        }
        if (body.TryGetPropertyValue("autoSkipSegmentCategories", out var categories))
        {
            patch = patch with { AutoSkipSegmentCategories = ParseCategories(categories, issues, "autoSkipSegmentCategories") };
        }
        if (body.TryGetPropertyValue("restoreQueueBehavior", out var restore))
        {
            if (!Zod.TryGetInt(restore, out var r) || r is < 0 or > 2)
            {
                issues.Add(Zod.IsNumber(restore)
                    ? new ZodIssue("invalid_enum_value", $"Invalid enum value. Expected 0 | 1 | 2, received '{restore!.ToJsonString()}'", ["restoreQueueBehavior"])
                    : Zod.InvalidType("number", restore, "restoreQueueBehavior"));
            }
            else patch = patch with { RestoreQueueBehavior = (RestoreQueueBehavior)r };
        }
        if (body.TryGetPropertyValue("enableVoteSkip", out var voteSkip))
        {
            if (!Zod.IsBool(voteSkip)) issues.Add(Zod.InvalidType("boolean", voteSkip, "enableVoteSkip"));
            else patch = patch with { EnableVoteSkip = voteSkip!.GetValue<bool>() };
        }
        if (body.TryGetPropertyValue("waitForBuffering", out var wait))
        {
            if (!Zod.TryGetDouble(wait, out var seconds)) issues.Add(Zod.InvalidType("number", wait, "waitForBuffering"));
            else if (seconds is < 0 or > SettingsPatch.MaxWaitForBuffering)
            {
                issues.Add(Zod.Custom($"waitForBuffering must be from 0 (off) to {SettingsPatch.MaxWaitForBuffering} seconds", "waitForBuffering"));
            }
            else patch = patch with { WaitForBuffering = seconds };
        }
        var unknown = body.Select(kv => kv.Key).Where(k => !Keys.Contains(k)).ToList();
        if (strict && unknown.Count > 0)
        {
            issues.Add(Zod.UnrecognizedKeys(unknown));
        }
        return (issues.Count == 0 ? patch : null, issues);
    }

    public static Visibility? ParseVisibility(JsonNode? node, List<ZodIssue> issues, string field)
    {
        if (!Zod.IsString(node)) { issues.Add(Zod.InvalidType("'public' | 'unlisted' | 'private'", node, field)); return null; }
        switch (node!.GetValue<string>())
        {
            case "public": return Visibility.Public;
            case "unlisted": return Visibility.Unlisted;
            case "private": return Visibility.Private;
            default: issues.Add(Zod.InvalidEnum(VisibilityNames, node, field)); return null;
        }
    }

    public static QueueMode? ParseQueueMode(JsonNode? node, List<ZodIssue> issues, string field)
    {
        if (!Zod.IsString(node)) { issues.Add(Zod.InvalidType("'manual' | 'vote' | 'loop' | 'dj'", node, field)); return null; }
        switch (node!.GetValue<string>())
        {
            case "manual": return QueueMode.Manual;
            case "vote": return QueueMode.Vote;
            case "loop": return QueueMode.Loop;
            case "dj": return QueueMode.Dj;
            default: issues.Add(Zod.InvalidEnum(QueueModeNames, node, field)); return null;
        }
    }

    public static ImmutableList<string>? ParseCategories(JsonNode? node, List<ZodIssue> issues, string field)
    {
        if (node is not JsonArray array) { issues.Add(Zod.InvalidType("array", node, field)); return null; }
        var list = new List<string>();
        for (var i = 0; i < array.Count; i++)
        {
            var item = array[i];
            if (Zod.IsString(item) && SegmentCategories.IsValid(item!.GetValue<string>()))
            {
                list.Add(item.GetValue<string>());
            }
            else
            {
                issues.Add(Zod.IsString(item) ? Zod.InvalidEnum(SegmentCategories.All, item, field, i) : Zod.InvalidType("string", item, field, i));
            }
        }
        return SegmentCategories.Normalize(list);
    }

    private static ImmutableList<(Role, int)>? ParseGrants(JsonNode? node, List<ZodIssue> issues)
    {
        if (node is not JsonArray array) { issues.Add(Zod.InvalidType("array", node, "grants")); return null; }
        var pairs = ImmutableList.CreateBuilder<(Role, int)>();
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonArray pair || pair.Count != 2)
            {
                issues.Add(Zod.InvalidType("array", array[i], "grants", i));
                continue;
            }
            if (!Zod.TryGetInt(pair[0], out var role) || role is < -1 or > 4)
            {
                issues.Add(new ZodIssue("invalid_enum_value", "Invalid role", ["grants", i, 0]));
                continue;
            }
            if (!Zod.TryGetInt(pair[1], out var mask))
            {
                issues.Add(Zod.InvalidType("number", pair[1], "grants", i, 1));
                continue;
            }
            pairs.Add(((Role)role, mask));
        }
        return pairs.ToImmutable();
    }
}
