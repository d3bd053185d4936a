using Ott.Sync.Auth;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Sync.Endpoints;

internal static class EndpointsServiceExtensions
{
    // The HTTP JSON options: every folder's source-generated context, so any body an endpoint reads or
    // writes has generated metadata. Inserted first so it wins over any resolver added by a library.
    public static WebApplicationBuilder AddOttEndpoints(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            var chain = o.SerializerOptions.TypeInfoResolverChain;
            chain.Insert(0, ApiJsonContext.Default);
            chain.Insert(1, StateJsonContext.Default);
            chain.Insert(2, AuthJsonContext.Default);
            chain.Insert(3, RoomsJsonContext.Default);
            chain.Insert(4, ProtocolJsonContext.Default);
            // API bodies are read by JSON clients, not embedded in HTML: keep Zod's quotes readable.
            o.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        });
        // The test-only API's switch (docs/protocol.md §4.5): never on in Production. Mapping the routes reads
        // it, so a forbidden value stops the process before it listens.
        builder.Services.AddOptions<TestingOptions>().BindConfiguration(TestingOptions.Section)
            .Validate<IHostEnvironment>((o, env) => !(o.Endpoints && env.IsProduction()), TestingOptions.ProductionMessage)
            .ValidateOnStart();
        // Discord login (docs/protocol.md §3.3): its settings always; the OAuth handler only with a client id.
        builder.AddOttDiscord();
        return builder;
    }
}
