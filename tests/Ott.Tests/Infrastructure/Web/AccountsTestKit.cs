using System.Net;
using System.Text.Json.Nodes;
using Ott.Sync.Storage;

namespace Ott.Tests.Infrastructure.Web;

// A registered account as a test sees it: the token that is logged in, and the account's id.
internal sealed record TestAccount(string Token, string Username, string Email, string Password, long Id);

internal static class AccountsTestKit
{
    public const string Password = "Correct-Horse7";

    public static string NewUsername(string prefix = "u") => prefix + Guid.NewGuid().ToString("N")[..12];

    // Grants a token, registers an account on it (so the token is logged in) and looks up its id.
    public static async Task<TestAccount> RegisterAsync(this OttApplication app, string? username = null, string password = Password,
        string? token = null)
    {
        username ??= NewUsername();
        token ??= await app.GrantAsync();
        var email = username.ToLowerInvariant() + "." + Guid.NewGuid().ToString("N")[..6] + "@example.test";
        using var client = app.ApiClient(token);
        using var response = await client.PostAsync("/api/user/register", OttApplication.Json(new JsonObject
        {
            ["username"] = username,
            ["email"] = email,
            ["password"] = password,
        }));
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"register {username} failed: {(int)response.StatusCode} {text}");
        }
        var id = long.Parse((string)(await app.Database.StringGetAsync(new RedisKeys(app.KeyPrefix).UserByName(username)))!,
            System.Globalization.CultureInfo.InvariantCulture);
        return new TestAccount(token, username, email, password, id);
    }

    // Logs a fresh token in to an existing account: a second session of the same account.
    public static async Task<string> LoginAsync(this OttApplication app, TestAccount account)
    {
        var token = await app.GrantAsync();
        using var client = app.ApiClient(token);
        using var response = await client.PostAsync("/api/user/login", OttApplication.Json(new JsonObject
        {
            ["user"] = account.Username,
            ["password"] = account.Password,
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return token;
    }

    public static async Task<(HttpStatusCode Status, JsonObject Body)> SendJsonAsync(this HttpClient client, HttpMethod method, string path,
        JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = OttApplication.Json(body);
        }
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject());
    }

    // A `user` update for the given client, optionally with a given role.
    public static Func<JsonObject, bool> UserUpdate(string clientId, int? role = null) => m =>
        m.Action() == "user" && m["update"]?["kind"]?.GetValue<string>() == "update"
        && m["update"]!["value"]!["id"]!.GetValue<string>() == clientId
        && (role is null || m["update"]!["value"]!["role"]!.GetValue<int>() == role);

    // The first frame received so far that matches, wherever it is: for frames whose relative
    // order is not part of the contract (several connections refreshed at once).
    public static async Task<JsonObject> SeenAsync(this OttTestClient client, Func<JsonObject, bool> match)
    {
        JsonObject? found = null;
        await WaitUntil.WaitUntilAsync(() => Task.FromResult((found = client.Messages.FirstOrDefault(match)) is not null),
            OttTestClient.DefaultTimeout, "a matching frame arrived");
        return found!;
    }

    public static JsonObject Promote(string targetClientId, int role) =>
        new() { ["type"] = 9, ["targetClientId"] = targetClientId, ["role"] = role };

    public static JsonObject Kick(string clientId) => new() { ["type"] = 18, ["clientId"] = clientId };
}
