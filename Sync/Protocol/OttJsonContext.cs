using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Ott.Sync.Auth;
using Ott.Sync.Endpoints;
using Ott.Sync.Rooms;

namespace Ott.Sync.Protocol;

// The one source-generated context for everything that crosses a wire (house style #5).
// Null handling is decided per type with [JsonIgnore(Condition = WhenWritingNull)], never
// globally: several OTT shapes send an explicit null (for example `email: null`).
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(StorableRoom))]
[JsonSerializable(typeof(SyncableRoom))]
[JsonSerializable(typeof(RoomUserInfo))]
[JsonSerializable(typeof(QueueItem))]
[JsonSerializable(typeof(List<QueueItem>))]
[JsonSerializable(typeof(Segment))]
[JsonSerializable(typeof(RoomListItem))]
[JsonSerializable(typeof(List<RoomListItem>))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(OttError))]
[JsonSerializable(typeof(Session))]
[JsonSerializable(typeof(GrantResponse))]
[JsonSerializable(typeof(AnonymousUserResponse))]
[JsonSerializable(typeof(LoggedInUserResponse))]
[JsonSerializable(typeof(SuccessResponse))]
[JsonSerializable(typeof(RoomResponse))]
[JsonSerializable(typeof(GenerateResponse))]
[JsonSerializable(typeof(StatusResponse))]
[JsonSerializable(typeof(OwnershipView))]
[JsonSerializable(typeof(AccountRecord))]
[JsonSerializable(typeof(AccountUserResponse))]
[JsonSerializable(typeof(AccountResponse))]
[JsonSerializable(typeof(OwnedRoomsResponse))]
[JsonSerializable(typeof(PreviewAddResponse))]
[JsonSerializable(typeof(RoomUser))]
[JsonSerializable(typeof(List<RoomUser>))]
[JsonSerializable(typeof(Actor))]
[JsonSerializable(typeof(OttFailure))]
internal sealed partial class OttJsonContext : JsonSerializerContext;

internal static class OttJsonExtensions
{
    public static WebApplicationBuilder AddOttJson(this WebApplicationBuilder builder)
    {
        // Inserted first so the generated metadata wins over any resolver added by a library.
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, OttJsonContext.Default);
            // API bodies are read by JSON clients, not embedded in HTML: keep Zod's quotes readable.
            o.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        });
        return builder;
    }
}
