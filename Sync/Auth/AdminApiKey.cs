using Microsoft.Extensions.Options;

namespace Ott.Sync.Auth;

// The admin `apikey` this node accepts (docs/protocol.md §3.2): `Api:Key` from configuration, until the
// test-only API sets another at run time (docs/protocol.md §4.5). Like OTT's, a key set that way lives
// in this process only: other nodes and a restart go back to the configured key.
internal sealed class AdminApiKey(IOptionsMonitor<ApiOptions> options)
{
    private volatile string? _override;

    // Empty means no key: every apikey header gets `apikey is not set`.
    public string Current => _override ?? options.CurrentValue.Key;

    public void Set(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _override = key;
    }
}
