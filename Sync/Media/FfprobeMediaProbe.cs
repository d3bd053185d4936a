using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Ott.Sync.Protocol;

namespace Ott.Sync.Media;

// Measures a direct file with ffprobe (Debian's `ffmpeg` package): its length as OTT reads it (the
// first video stream's duration, else the first audio stream's, else the container's) and its title
// tag. No binary, a timeout, or a failed probe of a file that can be fetched all mean "length
// unknown" (docs/protocol.md §2), and the item is still accepted. Only when ffprobe fails is the URL
// itself asked for its first byte: a file that cannot be fetched at all (no connection, an HTTP
// error status) is an error, as in OTT.
internal sealed partial class FfprobeMediaProbe(IOptions<MediaOptions> options, MediaHttp http, ILogger<FfprobeMediaProbe> logger)
    : IMediaProbe, IDisposable
{
    private readonly SemaphoreSlim _slots = new(options.Value.Ffprobe.MaxConcurrent);
    private int _missingLogged;

    public void Dispose() => _slots.Dispose();

    public async Task<ProbedMedia?> ProbeAsync(Uri url, CancellationToken ct)
    {
        var o = options.Value.Ffprobe;
        if (string.IsNullOrWhiteSpace(o.Path) || url.Scheme is not ("http" or "https"))
        {
            return null;
        }
        return await ProbeCheckedAsync(url, followRedirect: true, ct);
    }

    private async Task<ProbedMedia?> ProbeCheckedAsync(Uri url, bool followRedirect, CancellationToken ct)
    {
        // ffprobe connects by itself, so its URL is checked first (OutboundGuard), and it may not follow redirects
        // (a hop would be unchecked); a redirected file is probed at its final URL, which the guarded client found.
        await http.Guard.CheckAsync(url, ct);
        var o = options.Value.Ffprobe;
        var start = new ProcessStartInfo(o.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        // Network protocols only: a hostile file must not make ffprobe open local files (an HLS
        // playlist served as .mp4 could name file: URLs). -rw_timeout bounds each network read
        // inside ffprobe too, in microseconds.
        string[] args =
        [
            "-v", "error",
            "-protocol_whitelist", "http,https,tcp,tls",
            "-max_redirects", "0",
            "-rw_timeout", ((long)o.Timeout.TotalMicroseconds).ToString(CultureInfo.InvariantCulture),
            "-show_entries", "format=duration:format_tags=title:stream=codec_type,duration",
            "-of", "json",
            url.AbsoluteUri,
        ];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(o.Timeout);
        try
        {
            await _slots.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Log.TimedOut(logger, url.Host, o.Timeout);
            return null;
        }
        try
        {
            return await RunAsync(start, url, followRedirect, timeout, ct);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<ProbedMedia?> RunAsync(ProcessStartInfo start, Uri url, bool followRedirect, CancellationTokenSource timeout, CancellationToken ct)
    {
        var o = options.Value.Ffprobe;
        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (Win32Exception e)
        {
            if (Interlocked.Exchange(ref _missingLogged, 1) == 0)
            {
                Log.Missing(logger, e, o.Path);
            }
            return null;
        }
        if (process is null)
        {
            return null;
        }
        using (process)
        {
            try
            {
                // Both pipes are drained concurrently, or a chatty stderr could block the child.
                var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
                var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
                await process.WaitForExitAsync(timeout.Token);
                var output = await stdout;
                var errors = await stderr;
                if (process.ExitCode == 0)
                {
                    return Parse(output);
                }
                Log.Failed(logger, url.Host, process.ExitCode, errors.Length > 300 ? errors[..300] : errors);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                if (ct.IsCancellationRequested)
                {
                    throw;
                }
                Log.TimedOut(logger, url.Host, o.Timeout);
                return null;
            }
        }
        var final = await EnsureReachableAsync(url, ct);
        // Redirected: the guarded client reached the final URL (every hop checked); probe it there, once.
        return followRedirect && final != url ? await ProbeCheckedAsync(final, followRedirect: false, ct) : null;
    }

    // ffprobe failed: tell a file that cannot be fetched (an error) from one that cannot be measured.
    private async Task<Uri> EnsureReachableAsync(Uri url, CancellationToken ct)
    {
        var (status, final) = await http.FinalStatusAsync(url, url.Host, ct);
        // 416: a range of an empty file; the file is there.
        if (status >= 400 && status != 416)
        {
            throw new OttException(MediaHttp.FailureFor(status, url.Host));
        }
        return final;
    }

    // OTT's reading: the first video stream's duration, else (no video) the first audio stream's,
    // each falling back to the container's; Ott also takes the container's when there is neither.
    internal static ProbedMedia? Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            JsonElement format = default;
            var hasFormat = root.TryGetProperty("format", out format) && format.ValueKind == JsonValueKind.Object;
            var container = hasFormat ? Seconds(format) : null;
            var stream = FirstStream(root, "video") ?? FirstStream(root, "audio");
            var length = stream is { } s ? Seconds(s) ?? container : container;
            string? title = null;
            if (hasFormat && format.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Object)
            {
                foreach (var tag in tags.EnumerateObject())
                {
                    if (tag.NameEquals("title") && tag.Value.ValueKind == JsonValueKind.String
                        && !string.IsNullOrWhiteSpace(tag.Value.GetString()))
                    {
                        title = tag.Value.GetString();
                        break;
                    }
                }
            }
            return length is null && title is null ? null : new ProbedMedia(length, title);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonElement? FirstStream(JsonElement root, string codecType)
    {
        if (!root.TryGetProperty("streams", out var streams) || streams.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        foreach (var stream in streams.EnumerateArray())
        {
            if (stream.ValueKind == JsonValueKind.Object && stream.TryGetProperty("codec_type", out var type)
                && type.ValueKind == JsonValueKind.String && type.ValueEquals(codecType))
            {
                return stream;
            }
        }
        return null;
    }

    // ffprobe writes durations as strings ("60.008000"); absent, "N/A" or non-positive means unknown.
    private static double? Seconds(JsonElement element) =>
        element.TryGetProperty("duration", out var duration)
        && duration.ValueKind == JsonValueKind.String
        && double.TryParse(duration.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
        && double.IsFinite(seconds) && seconds > 0
            ? seconds
            : null;

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited on its own in the meantime.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "ffprobe could not be started from {Path}; direct media gets no length")]
        public static partial void Missing(ILogger logger, Exception e, string path);

        [LoggerMessage(LogLevel.Debug, "ffprobe on a file at {Host} exited with {Code}: {Errors}")]
        public static partial void Failed(ILogger logger, string host, int code, string errors);

        [LoggerMessage(LogLevel.Information, "ffprobe on a file at {Host} did not finish within {Timeout}")]
        public static partial void TimedOut(ILogger logger, string host, TimeSpan timeout);
    }
}
