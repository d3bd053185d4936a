using System.Diagnostics;

namespace Ott.Tests.Infrastructure.Media;

/// <summary>A real 3-second mp4 (64x64 test pattern and a sine tone) generated with ffmpeg into a temp dir.</summary>
public sealed class MediaClip : IAsyncLifetime
{
    private readonly string _dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ott-media-" + Guid.NewGuid().ToString("N"));

    public string Path => System.IO.Path.Combine(_dir, "clip.mp4");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=3:size=64x64:rate=10",
            "-f", "lavfi", "-i", "sine=duration=3", "-shortest", Path,
        })
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)
            ?? throw new InvalidOperationException("ffmpeg was not found on PATH: install ffmpeg (or run bash .ci/run)");
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg failed: {await errors}");
        }
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}
