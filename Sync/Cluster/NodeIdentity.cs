using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Cluster;

/// <summary>This process's node id: new on every start, <c>{Node:Name}-{8 random hex}</c> (docs/architecture.md terms).</summary>
public sealed class NodeIdentity(IOptions<NodeOptions> options)
{
    public string Id { get; } = $"{options.Value.Name}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
}
