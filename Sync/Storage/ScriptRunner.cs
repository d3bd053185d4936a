using StackExchange.Redis;

namespace Ott.Sync.Storage;

internal static class ScriptRunner
{
    // Called by SHA; a server that has not seen the script (first call, or a restarted Redis)
    // answers NOSCRIPT, and EVAL then runs it and caches it for the next EVALSHA.
    public static async Task<RedisResult> EvaluateAsync(this IDatabase db, RoomScript script, RedisKey[] keys, RedisValue[] args,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(script);
        try
        {
            return await db.ScriptEvaluateAsync(script.Sha1, keys, args).WaitAsync(ct);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("NOSCRIPT", StringComparison.OrdinalIgnoreCase))
        {
            return await db.ScriptEvaluateAsync(script.Text, keys, args).WaitAsync(ct);
        }
    }
}
