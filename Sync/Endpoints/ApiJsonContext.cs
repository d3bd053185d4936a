using System.Text.Json.Serialization;

namespace Ott.Sync.Endpoints;

// The `/api` response bodies this folder defines; the same options as every other context
// (see ProtocolJsonContext).
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(OttError))]
[JsonSerializable(typeof(GrantResponse))]
[JsonSerializable(typeof(AnonymousUserResponse))]
[JsonSerializable(typeof(LoggedInUserResponse))]
[JsonSerializable(typeof(SuccessResponse))]
[JsonSerializable(typeof(GenerateResponse))]
[JsonSerializable(typeof(StatusResponse))]
[JsonSerializable(typeof(OwnershipView))]
[JsonSerializable(typeof(Ott.Sync.Connections.RoomDriftView))]
[JsonSerializable(typeof(AccountUserResponse))]
[JsonSerializable(typeof(AccountResponse))]
[JsonSerializable(typeof(OwnedRoomsResponse))]
[JsonSerializable(typeof(PreviewAddResponse))]
[JsonSerializable(typeof(SocialUserResponse))]
[JsonSerializable(typeof(BansResponse))]
[JsonSerializable(typeof(BanResponse))]
[JsonSerializable(typeof(AuditResponse))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
