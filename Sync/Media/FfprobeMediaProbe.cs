using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Media;

// Measures a direct file's length with ffprobe (Debian's `ffmpeg` package). Never an error: no
// binary, a failed probe or a timeout all mean "length unknown" (docs/protocol.md §2), and the item
// is still accepted.
internal sealed partial class FfprobeMediaProbe(IOptions<MediaOptions> options, ILogger<FfprobeMediaProbe> logger) : IMediaProbe, IDisposable
{
    private readonly SemaphoreSlim _slots = new(options.Value.Ffprobe.MaxConcurrent);
    private int _missingLogged;

    public void Dispose() => _slots.Dispose();

    public async Task<double?> ProbeLengthAsync(Uri url, CancellationToken ct)
    {
        var o = options.Value.Ffprobe;
        if (string.IsNullOrWhiteSpace(o.Path) || url.Scheme is not ("http" or "https"))
        {
            return null;
        }
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
            "-rw_timeout", ((long)o.Timeout.TotalMicroseconds).ToString(CultureInfo.InvariantCulture),
            "-show_entries", "format=duration",
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
            return await RunAsync(start, url, timeout, ct);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<double?> RunAsync(ProcessStartInfo start, Uri url, CancellationTokenSource timeout, CancellationToken ct)
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
                if (process.ExitCode != 0)
                {
                    Log.Failed(logger, url.Host, process.ExitCode, errors.Length > 300 ? errors[..300] : errors);
                    return null;
                }
                return ParseDuration(output);
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
    }

    internal static double? ParseDuration(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.TryGetProperty("format", out var format)
                && format.TryGetProperty("duration", out var duration)
                && duration.ValueKind == JsonValueKind.String
                && double.TryParse(duration.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                && double.IsFinite(seconds) && seconds > 0)
            {
                return seconds;
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }

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
