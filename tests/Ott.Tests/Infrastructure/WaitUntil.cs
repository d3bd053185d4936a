namespace Ott.Tests.Infrastructure;

internal static class WaitUntil
{
    // Polls instead of sleeping a fixed time: eventual effects are awaited, never assumed.
    public static async Task WaitUntilAsync(Func<Task<bool>> cond, TimeSpan timeout, string because)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            if (await cond())
            {
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting until {because}.");
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100));
        }
    }
}
