using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

public sealed class CreationDisabledApplication : OttApplication
{
    public CreationDisabledApplication()
    {
        Settings["Rooms:EnableCreateTemporary"] = "false";
        Settings["Rooms:EnableCreatePermanent"] = "false";
    }
}

// docs/protocol.md §4.3: each kind of creation can be switched off → 403 FeatureDisabledException.
public sealed class RoomCreationDisabledTests(CreationDisabledApplication app) : IClassFixture<CreationDisabledApplication>, IDisposable
{
    private const string Disabled = "Sorry, this feature is disabled: ";

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CreateIsAFeatureDisabledErrorWhenItsKindIsSwitchedOff(bool temporary)
    {
        var name = OttApplication.NewRoomName();
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var response = await client.SendAsync(HttpMethod.Post, "/api/room/create",
            new JsonObject { ["name"] = name, ["isTemporary"] = temporary }, Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden, "FeatureDisabledException", null, Ct);
        Assert.StartsWith(Disabled, error["message"].Str(), StringComparison.Ordinal);
        Assert.False(await app.Database.KeyExistsAsync($"{app.KeyPrefix}room:{{{name}}}:state"));
    }

    [Fact]
    public async Task GenerateIsAFeatureDisabledErrorCheckedBeforeTheBody()
    {
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var empty = await client.PostAsync("/api/room/generate", null, Ct);
        using var invalid = await client.PostAsync("/api/room/generate",
            new StringContent("{\"autoSkipSegmentCategories\":", Encoding.UTF8, "application/json"), Ct);

        foreach (var response in new[] { empty, invalid })
        {
            await response.AssertErrorAsync(HttpStatusCode.Forbidden, "FeatureDisabledException",
                Disabled + "Temporary rooms are disabled.", Ct);
        }
    }
}
