using System.Text.Json.Serialization;

namespace Ott.Sync.Auth;

// Sessions and accounts as Redis stores them; the same options as every other context
// (see ProtocolJsonContext).
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(Session))]
[JsonSerializable(typeof(AccountRecord))]
internal sealed partial class AuthJsonContext : JsonSerializerContext;
