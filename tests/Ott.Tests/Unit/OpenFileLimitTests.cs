using Ott.Sync.Connections;

namespace Ott.Tests.Unit;

public sealed class OpenFileLimitTests
{
    private const string Limits = """
        Limit                     Soft Limit           Hard Limit           Units
        Max cpu time              unlimited            unlimited            seconds
        Max processes             96367                96367                processes
        Max open files            1024                 524288               files
        Max locked memory         8388608              8388608              bytes
        """;

    [Fact]
    public void TheSoftLimitIsReadFromTheLimitsText()
    {
        Assert.Equal(1024, OpenFileLimit.SoftLimit(Limits));
        Assert.Equal(long.MaxValue, OpenFileLimit.SoftLimit(Limits.Replace("1024                 524288", "unlimited            unlimited", StringComparison.Ordinal)));
        Assert.Null(OpenFileLimit.SoftLimit("Limit  Soft Limit\nMax cpu time  unlimited  unlimited  seconds\n"));
    }

    [Fact]
    public void ThisProcesssOwnLimitIsReadable()
    {
        var limit = OpenFileLimit.SoftLimit(File.ReadAllText("/proc/self/limits"));
        Assert.NotNull(limit);
        Assert.True(limit > 0);
    }

    [Theory]
    [InlineData(1024, 10_000, true)]
    [InlineData(10_255, 10_000, true)]
    [InlineData(10_256, 10_000, false)]
    [InlineData(long.MaxValue, 10_000, false)]
    public void ItWarnsWhenTheLimitLeavesRoomForFewerSocketsThanExpected(long limit, int expected, bool warns) =>
        Assert.Equal(warns, OpenFileLimit.TooLow(limit, expected));
}
