using System.Net;
using System.Net.Sockets;
using Ott.Sync.Protocol;

namespace Ott.Sync.Media;

/// <summary>How host names become addresses for outgoing media requests; a seam so tests can point a name at loopback.</summary>
public interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct);
}

internal sealed class SystemHostResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => Dns.GetHostAddressesAsync(host, ct);
}

/// <summary>A connection the guard refused: the host asked for and the address it would have reached.</summary>
internal sealed class OutboundRefusedException(string host, IPAddress address)
    : Exception($"Outgoing connection to {host} ({address}) refused: not a public address.")
{
    public string Host { get; } = host;

    public IPAddress Address { get; } = address;
}

/// <summary>
/// Keeps the media resolvers and ffprobe from reaching the server's own network with a URL a user gave
/// (SSRF, docs/architecture.md §5.4, README "Security and limits"). A host is resolved once, here; every address
/// must be public (not loopback, private, link-local, CGNAT, multicast, reserved or documentation, in IPv4, IPv6
/// or IPv4 embedded in IPv6) unless <c>Media:OutboundAllowlist</c> names the host or a range holding it, and the
/// connection is made to exactly those checked addresses, so a second DNS answer cannot swap them. The upstream
/// endpoints the operator configured (YouTube, Vimeo) are trusted as host and port: they are not user input.
/// </summary>
internal sealed class OutboundGuard
{
    private static readonly IPNetwork[] NonPublic =
    [
        // IPv4 (RFC 6890 special-purpose): this network, private, CGNAT, loopback, link-local (cloud metadata
        // at 169.254.169.254), IETF protocol assignments, documentation, 6to4 relay, benchmarking, multicast,
        // reserved and broadcast.
        .. new[]
        {
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
            "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
            // IPv6: unspecified and loopback, IPv4-compatible, discard, Teredo and ORCHID and documentation,
            // unique local (fc00::/7), link-local, site-local, multicast.
            "::/127", "::/96", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
        }.Select(IPNetwork.Parse),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    private readonly IPNetwork[] _allowedRanges;
    private readonly HashSet<string> _allowedHosts;
    private readonly HashSet<(string Host, int Port)> _trusted;
    private readonly IHostResolver _resolver;

    public OutboundGuard(IEnumerable<string> allowlist, IEnumerable<Uri> trustedEndpoints, IHostResolver resolver)
    {
        var ranges = new List<IPNetwork>();
        _allowedHosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in allowlist)
        {
            if (TryParseRange(entry, out var range))
            {
                ranges.Add(range);
            }
            else
            {
                _allowedHosts.Add(entry.Trim().TrimEnd('.'));
            }
        }
        _allowedRanges = [.. ranges];
        _trusted = [.. trustedEndpoints.Select(u => (u.IdnHost.ToLowerInvariant(), u.Port))];
        _resolver = resolver;
    }

    /// <summary>The default: public addresses only, resolved by the system.</summary>
    public static OutboundGuard Default { get; } = new([], [], new SystemHostResolver());

    /// <summary>An IP address, or a CIDR range (<c>10.0.0.0/8</c>, <c>fd00::/8</c>).</summary>
    public static bool TryParseRange(string entry, out IPNetwork range)
    {
        var text = entry.Trim();
        if (IPAddress.TryParse(text, out var single))
        {
            range = new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        return IPNetwork.TryParse(text, out range);
    }

    /// <summary>A valid allowlist entry: a range, or a DNS host name.</summary>
    public static bool IsValidEntry(string entry) =>
        TryParseRange(entry, out _) || Uri.CheckHostName(entry.Trim().TrimEnd('.')) == UriHostNameType.Dns;

    /// <summary>True for an address no user-given URL may reach (IPv4-mapped, NAT64 and 6to4 forms judged by their IPv4 address).</summary>
    public static bool IsNonPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return IsNonPublic(address.MapToIPv4());
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            if (Nat64.Contains(address))
            {
                return IsNonPublic(new IPAddress(bytes.AsSpan(12, 4)));
            }
            if (SixToFour.Contains(address))
            {
                return IsNonPublic(new IPAddress(bytes.AsSpan(2, 4)));
            }
        }
        foreach (var range in NonPublic)
        {
            if (range.Contains(address))
            {
                return true;
            }
        }
        return false;
    }

    private bool Allowed(IPAddress address)
    {
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (!IsNonPublic(plain))
        {
            return true;
        }
        foreach (var range in _allowedRanges)
        {
            if (range.Contains(plain))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The addresses <paramref name="host"/> may be reached at; throws <see cref="OutboundRefusedException"/> when any
    /// of them is not allowed (a name that also resolves to a private address is refused whole).
    /// </summary>
    public async Task<IPAddress[]> ResolveAsync(string host, int port, CancellationToken ct)
    {
        var name = host.TrimEnd('.');
        var addresses = IPAddress.TryParse(name.Trim('[', ']'), out var literal) ? [literal] : await _resolver.ResolveAsync(name, ct);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }
        if (_allowedHosts.Contains(name) || _trusted.Contains((name.ToLowerInvariant(), port)))
        {
            return addresses;
        }
        foreach (var address in addresses)
        {
            if (!Allowed(address))
            {
                throw new OutboundRefusedException(name, address);
            }
        }
        return addresses;
    }

    /// <summary>
    /// The check before a URL is handed to a program that connects by itself (ffprobe): the refusal as the
    /// protocol error, and a name that does not resolve as an unavailable upstream.
    /// </summary>
    public async Task CheckAsync(Uri url, CancellationToken ct)
    {
        try
        {
            await ResolveAsync(url.IdnHost, url.Port, ct);
        }
        catch (OutboundRefusedException e)
        {
            throw new OttException(MediaFailures.AddressRefused(e.Host));
        }
        catch (SocketException)
        {
            throw new OttException(MediaFailures.UpstreamUnavailable(url.Host));
        }
    }

    /// <summary>The <see cref="SocketsHttpHandler.ConnectCallback"/>: every connection, redirects included, goes only to checked addresses.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var endpoint = context.DnsEndPoint;
        var addresses = await ResolveAsync(endpoint.Host, endpoint.Port, ct);
        SocketException? failed = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                failed = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw failed!;
    }
}
