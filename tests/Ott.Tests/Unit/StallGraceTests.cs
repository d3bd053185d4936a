using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Ott.Sync.Cluster;
using Ott.Sync.Connections;

namespace Ott.Tests.Unit;

// A node's own stall is not its clients' misbehaviour (docs/architecture.md §12).
public sealed class StallGraceTests
{
    [Fact]
    public void TheBudgetRefusesABurstButNotTheOneANodeStallCaused()
    {
        var time = new FakeTimeProvider();
        var stalls = new StallWatch(time, NullLogger<StallWatch>.Instance);
        var budget = new SocketBudget(perSecond: 1, burst: 2, time, () => stalls.InGrace);

        Assert.True(budget.TryTake());
        Assert.True(budget.TryTake());
        Assert.False(budget.TryTake()); // a real burst is refused

        stalls.Stalled(TimeSpan.FromSeconds(5)); // the node was stopped: what it reads now queued up meanwhile
        Assert.True(stalls.InGrace);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.True(budget.TryTake()));

        time.Advance(TimeSpan.FromSeconds(5.1)); // the grace lasts as long as the stall
        Assert.False(stalls.InGrace);
        Assert.True(budget.TryTake());
        Assert.True(budget.TryTake());
        Assert.False(budget.TryTake());
    }

    [Fact]
    public void AShortStallStillGetsTheMinimumGrace()
    {
        var time = new FakeTimeProvider();
        var stalls = new StallWatch(time, NullLogger<StallWatch>.Instance);

        stalls.Stalled(TimeSpan.FromMilliseconds(1200));
        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.True(stalls.InGrace);
        time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.False(stalls.InGrace);
    }
}
