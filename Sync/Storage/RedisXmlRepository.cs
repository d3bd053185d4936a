using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Ott.Sync.Storage;

// The data-protection key ring in the store ({p}dataprotection:keys, one XML element per list entry), so every
// node protects and unprotects with the same keys (docs/architecture.md §6.3). The framework calls this
// synchronously and caches the ring; it reads again only when a key is due to roll (about every 90 days) or
// at a refresh.
internal sealed class RedisXmlRepository(RedisConnection connection, RedisKeys keys) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() =>
        [.. connection.Database.ListRange(keys.DataProtectionKeys).Select(v => XElement.Parse((string)v!))];

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        connection.Database.ListRightPush(keys.DataProtectionKeys, element.ToString(SaveOptions.DisableFormatting));
    }
}
