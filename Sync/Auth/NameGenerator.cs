using System.Security.Cryptography;

namespace Ott.Sync.Auth;

// Generated session names: adjective_colour_animal, all lower case (protocol §3.1).
// The words are ASCII letters only, so a name is always a safe display string.
internal static class NameGenerator
{
    internal static IReadOnlyList<string> Adjectives { get; } =
    [
        "big", "small", "tiny", "huge", "quick", "slow", "brave", "calm", "eager", "fancy",
        "gentle", "happy", "jolly", "kind", "lively", "proud", "silly", "witty", "zany", "bold",
        "clever", "cosy", "curious", "daring", "dizzy", "fluffy", "fuzzy", "grumpy", "humble", "lucky",
        "mighty", "nimble", "polite", "quiet", "rapid", "shiny", "sleepy", "sneaky", "sunny", "swift",
        "tidy", "wise", "wild", "young", "ancient", "bouncy", "chatty", "cheerful", "fearless", "sturdy",
    ];

    internal static IReadOnlyList<string> Colours { get; } =
    [
        "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
        "grey", "silver", "golden", "teal", "cyan", "magenta", "violet", "indigo", "crimson", "amber",
        "beige", "coral", "ivory", "lime", "maroon", "navy", "olive", "scarlet", "turquoise", "lavender",
    ];

    internal static IReadOnlyList<string> Animals { get; } =
    [
        "donkey", "badger", "otter", "beaver", "falcon", "eagle", "owl", "penguin", "walrus", "seal",
        "dolphin", "whale", "shark", "octopus", "squid", "lobster", "crab", "turtle", "tortoise", "lizard",
        "gecko", "iguana", "frog", "toad", "salamander", "rabbit", "hare", "squirrel", "hedgehog", "mole",
        "fox", "wolf", "bear", "panda", "koala", "kangaroo", "wombat", "platypus", "lemur", "monkey",
        "gorilla", "sloth", "zebra", "giraffe", "hippo", "rhino", "elephant", "camel", "llama", "alpaca",
        "yak", "moose", "elk", "bison", "goat", "sheep", "pig", "duck", "goose", "swan",
    ];

    public static string Generate() =>
        string.Join('_', Pick(Adjectives), Pick(Colours), Pick(Animals));

    private static string Pick(IReadOnlyList<string> words) =>
        words[RandomNumberGenerator.GetInt32(words.Count)];
}
