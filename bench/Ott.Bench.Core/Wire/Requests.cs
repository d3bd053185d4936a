using System.Text;

namespace Ott.Bench.Wire;

// Client frames, pre-encoded as UTF-8. Numbers and markers are ASCII, so no escaping is needed.
internal static class Requests
{
    public static byte[] Auth(string token) =>
        Encoding.UTF8.GetBytes("{\"action\":\"auth\",\"token\":\"" + token + "\"}");

    public static byte[] Playback(bool play) =>
        Encoding.UTF8.GetBytes("{\"action\":\"req\",\"request\":{\"type\":2,\"state\":" + (play ? "true" : "false") + "}}");

    public static byte[] Seek(long seq) =>
        Encoding.UTF8.GetBytes("{\"action\":\"req\",\"request\":{\"type\":4,\"value\":" + seq + "}}");

    public static byte[] Chat(int sender, long seq) =>
        Encoding.UTF8.GetBytes("{\"action\":\"req\",\"request\":{\"type\":11,\"text\":\"" + sender + "." + seq + "\"}}");

    // Fanout's cycle: play, seek, pause, chat. Every one of them is broadcast to the whole room.
    public static byte[] FanoutStep(int sender, long seq) => (seq % 4) switch
    {
        0 => Playback(true),
        1 => Seek(seq),
        2 => Playback(false),
        _ => Chat(sender, seq),
    };
}
