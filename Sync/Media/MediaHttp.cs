using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Ott.Sync.Protocol;

namespace Ott.Sync.Media;

internal readonly record struct UpstreamResponse(int Status, byte[] Body)
{
    public bool IsSuccess => Status is >= 200 and < 300;
}

// The one HTTP client every resolver uses. A singleton owning a SocketsHttpHandler with a pooled
// connection lifetime (the documented pattern for long-lived clients), so DNS changes are picked
// up without IHttpClientFactory. Each request has its own timeout; network failures, timeouts,
// oversized and unreadable bodies become protocol failures here, so resolvers only map statuses.
internal sealed class MediaHttp : IDisposable
{
    private readonly HttpClient _client;
    private readonly TimeSpan _timeout;

    public MediaHttp(IOptions<MediaOptions> options, IHostResolver resolver) : this(options.Value.UpstreamTimeout, new OutboundGuard(
        options.Value.OutboundAllowlist,
        // The API endpoints the operator configured are trusted by host and port; user URLs are not (OutboundGuard).
        [new Uri(options.Value.YouTube.BaseUrl), new Uri(options.Value.Vimeo.OEmbedUrl)],
        resolver))
    {
    }

    // Without a guard, only public addresses are reached (OutboundGuard.Default); tests that fetch from a loopback
    // fake pass a guard that allowlists loopback.
    public MediaHttp(TimeSpan timeout, OutboundGuard? guard = null)
    {
        _timeout = timeout;
        Guard = guard ?? OutboundGuard.Default;
        _client = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = timeout,
            AutomaticDecompression = DecompressionMethods.All,
            MaxAutomaticRedirections = 5,
            // Every connection, each redirect's included, goes to addresses the guard checked. Direct only: through
            // an HTTP proxy the callback would check the proxy, not the upstream.
            ConnectCallback = Guard.ConnectAsync,
            UseProxy = false,
        })
        {
            // Per-request timeouts come from the linked token below, never from HttpClient.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("Ott/1.0");
    }

    /// <summary>What every outgoing media request is checked by; ffprobe's URLs are checked by it too.</summary>
    public OutboundGuard Guard { get; }

    public async Task<UpstreamResponse> GetAsync(Uri url, string source, int maxBytes, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_timeout);
        try
        {
            using var response = await _client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.Content.Headers.ContentLength > maxBytes)
            {
                throw new OttException(MediaFailures.UpstreamMalformed(source));
            }
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, timeout.Token)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw new OttException(MediaFailures.UpstreamMalformed(source));
                }
                buffer.Write(chunk, 0, read);
            }
            return new UpstreamResponse((int)response.StatusCode, buffer.ToArray());
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new OttException(MediaFailures.UpstreamTimeout(source));
        }
        catch (HttpRequestException e) when (e.InnerException is OutboundRefusedException refused)
        {
            throw new OttException(MediaFailures.AddressRefused(refused.Host));
        }
        catch (HttpRequestException)
        {
            throw new OttException(MediaFailures.UpstreamUnavailable(source));
        }
        catch (IOException)
        {
            // A connection reset while the body streams in.
            throw new OttException(MediaFailures.UpstreamUnavailable(source));
        }
    }

    /// <summary>
    /// The status a GET of the first byte of <paramref name="url"/> gets, read from the headers alone (the body is
    /// never downloaded), with the URL the answer came from after redirects. A connection failure or a timeout is
    /// the protocol failure, as for <see cref="GetAsync"/>.
    /// </summary>
    public async Task<(int Status, Uri Url)> FinalStatusAsync(Uri url, string source, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 0);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            return ((int)response.StatusCode, response.RequestMessage?.RequestUri ?? url);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new OttException(MediaFailures.UpstreamTimeout(source));
        }
        catch (HttpRequestException e) when (e.InnerException is OutboundRefusedException refused)
        {
            throw new OttException(MediaFailures.AddressRefused(refused.Host));
        }
        catch (HttpRequestException)
        {
            throw new OttException(MediaFailures.UpstreamUnavailable(source));
        }
    }

    // The default meaning of a failed status; resolvers handle the statuses their API defines first.
    public static OttFailure FailureFor(int status, string source) => status switch
    {
        404 or 410 => OttFailure.VideoNotFound(),
        >= 400 and < 500 => MediaFailures.UpstreamRejected(source, status),
        _ => MediaFailures.UpstreamUnavailable(source),
    };

    public static JsonDocument ParseJson(UpstreamResponse response, string source)
    {
        try
        {
            return JsonDocument.Parse(response.Body);
        }
        catch (JsonException)
        {
            throw new OttException(MediaFailures.UpstreamMalformed(source));
        }
    }

    public void Dispose() => _client.Dispose();
}
