using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace Ott.Tests.Infrastructure.Browser;

/// <summary>
/// Test clips made with ffmpeg at test time and served over loopback by a static-file Kestrel, so
/// the room's <c>direct</c> media is real HTTP with range requests, as a browser expects.
/// </summary>
public sealed class MediaServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;

    private MediaServer(WebApplication app, string directory, string baseUrl)
    {
        _app = app;
        _directory = directory;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public string UrlOf(string file) => $"{BaseUrl}/{file}";

    /// <summary>Makes one clip of <paramref name="seconds"/> under each of <paramref name="names"/> and serves them.</summary>
    public static async Task<MediaServer> StartAsync(int seconds, params string[] names)
    {
        var directory = Directory.CreateTempSubdirectory("ott-media-").FullName;
        var first = Path.Combine(directory, names[0]);
        await FfmpegAsync(seconds, first);
        foreach (var name in names.Skip(1))
        {
            File.Copy(first, Path.Combine(directory, name));
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(directory) });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new MediaServer(app, directory, address.TrimEnd('/'));
    }

    private static async Task FfmpegAsync(int seconds, string output)
    {
        var start = new ProcessStartInfo("ffmpeg")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // A keyframe every second keeps seeks cheap; faststart puts the index first for streaming.
        foreach (var arg in (string[])["-v", "error", "-y", "-f", "lavfi", "-i", $"testsrc=duration={seconds}:size=160x120:rate=10",
            "-pix_fmt", "yuv420p", "-g", "10", "-movflags", "+faststart", output])
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("ffmpeg did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("ffmpeg was not found on PATH: install ffmpeg (or run bash .ci/run)", e);
        }
        using (process)
        {
            var errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"ffmpeg failed ({process.ExitCode}): {await errors}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
