using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Ott.Sync.Auth;
using Ott.Sync.Endpoints;

namespace Ott.Tests.Unit;

public class OttErrorTests
{
    [Fact]
    public async Task AnErrorIsWrittenAsSuccessFalseWithNameAndMessage()
    {
        var (status, headers, body) = await ExecuteAsync(OttErrors.RoomNotFound());

        Assert.Equal(404, status);
        Assert.Equal("""{"success":false,"error":{"name":"RoomNotFoundException","message":"Room not found"}}""", body.ToJsonString());
        Assert.False(headers.ContainsKey("Retry-After"));
    }

    [Fact]
    public async Task BadApiArgumentCarriesArgAndReason()
    {
        var (status, _, body) = await ExecuteAsync(OttErrors.BadApiArgument("body", "invalid JSON"));

        Assert.Equal(400, status);
        var error = body["error"]!;
        Assert.Equal("Bad argument: body: invalid JSON", error["message"]!.GetValue<string>());
        Assert.Equal("body", error["arg"]!.GetValue<string>());
        Assert.Equal("invalid JSON", error["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task AMessageOnlyErrorHasNoName()
    {
        var (_, _, body) = await ExecuteAsync(OttErrors.MessageOnly(400, "Not logged in."));

        Assert.Equal("""{"success":false,"error":{"message":"Not logged in."}}""", body.ToJsonString());
    }

    [Fact]
    public async Task RoomUnavailableAsksToRetryAfterOneSecond()
    {
        var (status, headers, body) = await ExecuteAsync(OttErrors.RoomUnavailable());

        Assert.Equal(503, status);
        Assert.Equal("1", headers["Retry-After"].ToString());
        Assert.Equal("RoomUnavailable", body["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheLoginLockOutHasNoSuccessField()
    {
        var (status, headers, body) = await ExecuteAsync(OttErrors.LoginTooManyAttempts(TimeSpan.FromSeconds(90.2)));

        Assert.Equal(429, status);
        Assert.Equal("91", headers["Retry-After"].ToString());
        Assert.Null(body["success"]);
        Assert.Equal("Too many attempts.", body["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task AlreadyInUseNamesTheField()
    {
        var (_, _, body) = await ExecuteAsync(OttErrors.AlreadyInUse("email", "Email is already associated with an account."));

        Assert.Equal("email", body["error"]!["fields"]![0]!.GetValue<string>());
    }

    [Theory]
    [InlineData("https://example.com/clip.x", true)]
    [InlineData("https://example.com/clip.mkv", false)]
    [InlineData("https://example.com/a.b/clip", false)]
    [InlineData("not a url", false)]
    public void UnsupportedServiceAsksForASupportRequestOnlyForOneCharacterExtensions(string url, bool asks)
    {
        var message = OttErrors.UnsupportedServiceMessage(url);

        Assert.EndsWith($"\"{url}\" is not a valid URL for any supported service.", message, StringComparison.Ordinal);
        Assert.Equal(asks, message.StartsWith("If this is a direct link", StringComparison.Ordinal));
    }

    [Fact]
    public void TheSessionKeyIsTheBase64UrlSha256OfTheToken()
    {
        var token = SessionStore.NewToken();

        var expected = Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

        Assert.Equal(expected, SessionStore.KeyOf(token));
        Assert.DoesNotContain('=', SessionStore.KeyOf(token));
        Assert.Equal(32, Base64Url.DecodeFromChars(token).Length);
    }

    [Theory]
    [InlineData("/room/foo", true)]
    [InlineData("/", true)]
    [InlineData("//evil.example", false)]
    [InlineData("/\\evil.example", false)]
    [InlineData("/\t/evil.example", false)]
    [InlineData("room/foo", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void OnlyPathsOnThisSiteAreRedirectTargets(string? path, bool allowed) =>
        Assert.Equal(allowed, AuthEndpoints.IsSameSitePath(path));

    private static async Task<(int Status, IHeaderDictionary Headers, JsonNode Body)> ExecuteAsync(OttErrorResult result)
    {
        var http = new DefaultHttpContext();
        using var body = new MemoryStream();
        http.Response.Body = body;
        // The result writes through HttpJsonOptions only for registered types; OttErrorResult
        // passes its JsonTypeInfo explicitly, so no services are needed.
        http.RequestServices = new EmptyServices();
        await result.ExecuteAsync(http);
        return (http.Response.StatusCode, http.Response.Headers, JsonNode.Parse(body.ToArray())!);
    }

    private sealed class EmptyServices : IServiceProvider
    {
        public object? GetService(Type serviceType) => null;
    }
}
