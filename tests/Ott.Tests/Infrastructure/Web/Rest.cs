using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Ott.Tests.Infrastructure.Web;

// REST helpers for the room tests: JSON in and out with JsonNode only (no reflection JSON).
internal static class Rest
{
    public static async Task<HttpResponseMessage> SendAsync(this HttpClient client, HttpMethod method, string url,
        JsonNode? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }
        return await client.SendAsync(request, ct);
    }

    public static async Task<JsonNode> JsonAsync(this HttpResponseMessage response, CancellationToken ct) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;

    public static async Task<JsonObject> GetObjectAsync(this HttpClient client, string url, CancellationToken ct)
    {
        using var response = await client.GetAsync(url, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.JsonAsync(ct)).AsObject();
    }

    public static async Task AssertSuccessAsync(this HttpResponseMessage response, CancellationToken ct,
        HttpStatusCode status = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["success"] = true }, JsonNode.Parse(text)), text);
    }

    /// <summary>Asserts an OTT error body and returns its <c>error</c> object.</summary>
    public static async Task<JsonObject> AssertErrorAsync(this HttpResponseMessage response, HttpStatusCode status,
        string name, string? message, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.False(body["success"]!.GetValue<bool>());
        var error = body["error"]!.AsObject();
        Assert.Equal(name, error["name"]?.GetValue<string>());
        if (message is not null)
        {
            Assert.Equal(message, error["message"]!.GetValue<string>());
        }
        return error;
    }

    public static string Str(this JsonNode? node) => node!.GetValue<string>();
}
