using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Ott.Tests.Hostile;

public sealed class FuzzApplication : OttApplication
{
    public FuzzApplication()
    {
        // The fuzzer sends thousands of bad frames on purpose: the 1008 and budget closes are tested elsewhere.
        Settings["Connections:MaxInputErrors"] = "10000";
        Settings["Connections:MessagesPerSecond"] = "100000";
        Settings["Connections:MessageBurst"] = "100000";
        // The fuzz is about the protocol, not media: no ffprobe run per added URL (no network here).
        Settings["Media:Ffprobe:Path"] = "";
    }
}

/// <summary>
/// Seeded adversarial frames interleaved with valid requests: every bad frame gets exactly one error
/// reply, the socket stays open, and the room ends exactly as the valid requests alone leave it.
/// Reproduce a failure with the printed seed.
/// </summary>
public sealed class SocketFuzzTests(FuzzApplication app, ITestOutputHelper output) : IClassFixture<FuzzApplication>
{
    private static readonly string[] Services = ["direct", "youtube", "vimeo", "nope", ""];
    private static readonly int[] InternalTypes = [0, 1, 10];

    [Theory]
    [InlineData(20261126)]
    [InlineData(7)]
    [InlineData(424242)]
    public async Task AdversarialFramesGetErrorsAndLeaveOnlyTheValidRequestsEffects(int seed)
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var room = await app.CreateRoomAsync();
        await using var fuzzer = await app.JoinAsync(room);
        await using var watcher = await app.JoinAsync(room);
        fuzzer.SkipReceived();

        var expectedErrors = 0;
        var lastSeek = 0.0;
        var added = new List<string>();
        for (var batch = 0; batch < 10; batch++)
        {
            for (var i = 0; i < 100; i++)
            {
                if (random.Next(10) == 0)
                {
                    // A valid request with a unique effect.
                    if (random.Next(2) == 0)
                    {
                        lastSeek = Math.Round(random.NextDouble() * 1000, 3);
                        await fuzzer.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = lastSeek });
                    }
                    else
                    {
                        var url = $"https://example.com/fuzz/{seed}/{batch}-{i}.mp4";
                        added.Add(url);
                        await fuzzer.RequestAsync(new JsonObject { ["type"] = 5, ["url"] = url });
                    }
                    continue;
                }
                var (frame, binary) = BadFrame(random);
                if (binary)
                {
                    await fuzzer.Socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Binary, true, default);
                }
                else
                {
                    await fuzzer.SendTextAsync(frame);
                }
                expectedErrors++;
            }
            // The server is still serving: a chat round-trips after every batch.
            var marker = $"batch {batch} done";
            await fuzzer.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = marker });
            await watcher.WaitForAsync(m => m.Action() == "chat" && m["text"]!.GetValue<string>() == marker);
            await fuzzer.WaitForAsync(m => m.Action() == "chat" && m["text"]!.GetValue<string>() == marker);
        }

        var errors = fuzzer.Messages.Count(m => m.Action() == "error");
        Assert.Equal(expectedErrors, errors);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, fuzzer.Socket.State);
        Assert.DoesNotContain(watcher.Messages, m => m.Action() == "error" || m.Action() == "eventcustom");

        // The state is exactly what the valid requests made.
        using var http = app.ApiClient(fuzzer.Token);
        var state = JsonNode.Parse(await http.GetStringAsync($"/api/room/{room}"))!;
        var queued = state["queue"]!.AsArray().Select(q => q!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(added.Skip(1), queued); // the first add became current
        Assert.Equal(2, state["users"]!.AsArray().Count);
        await using var late = await app.JoinAsync(room);
        var sync = late.Messages[0];
        Assert.Equal(added[0], sync["currentSource"]!["id"]!.GetValue<string>());
        Assert.False(sync["isPlaying"]!.GetValue<bool>());
        Assert.Equal(lastSeek, sync["playbackPosition"]!.GetValue<double>(), 3);
    }

    /// <summary>A frame that must be rejected with an error reply and change nothing.</summary>
    private static (string Frame, bool Binary) BadFrame(Random random)
    {
        string Req(string body) => $"{{\"action\":\"req\",\"request\":{body}}}";
        string AnyJson() => random.Next(8) switch
        {
            0 => "null",
            1 => "\"true\"",
            2 => "\"text\"",
            3 => "[]",
            4 => "{}",
            5 => "1e400",
            6 => "-0.5",
            _ => "[1,2,{\"a\":[]}]",
        };
        var valid = Req("{\"type\":4,\"value\":1}");
        return random.Next(20) switch
        {
            0 => (valid[..random.Next(1, valid.Length - 1)], false), // truncated
            1 => ("{\"action\":\"req\",\"request\":{\"type\":4,\"value\":NaN}}", false),
            2 => ("{\"action\":\"req\",\"request\":{\"type\":4,\"value\":Infinity}}", false),
            3 => (new string('[', 500 + random.Next(500)) + new string(']', 10), false), // deep nesting
            4 => ($"{{\"action\":\"{Guid.NewGuid():N}\"}}", false), // unknown action
            5 => (Req($"{{\"type\":{20 + random.Next(1000)}}}"), false), // unknown type
            6 => (Req($"{{\"type\":{InternalTypes[random.Next(3)]},\"info\":{{\"id\":\"x\",\"username\":\"forged\"}}}}"), false), // server-internal
            7 => (Req($"{{\"type\":2,\"state\":{AnyJson()}}}"), false), // wrong type
            8 => (Req($"{{\"type\":4,\"value\":{(random.Next(2) == 0 ? "\"12\"" : "null")}}}"), false),
            9 => (Req($"{{\"type\":7,\"fromIdx\":{random.Next(1000, 5000)},\"toIdx\":0}}"), false), // out of range (domain)
            10 => (Req($"{{\"type\":18,\"clientId\":\"{Guid.NewGuid()}\"}}"), false), // another client id (absent)
            11 => (Req($"{{\"type\":9,\"targetClientId\":\"{Guid.NewGuid()}\",\"role\":{random.Next(0, 5)}}}"), false),
            12 => (Req($"{{\"type\":16,\"speed\":{(random.Next(2) == 0 ? "0" : "-1")}}}"), false),
            13 => (Req($"{{\"type\":5,\"video\":{{\"service\":\"{Services[random.Next(Services.Length)]}\",\"id\":{AnyJson()}}}}}"), false),
            14 => ("{\"action\":\"auth\",\"token\":\"" + Guid.NewGuid() + "\"}", false), // second auth
            15 => ("{\"action\":\"status\",\"status\":" + AnyJson() + "}", false),
            16 => ("{\"request\":{\"type\":4,\"value\":3}}", false), // no action
            17 => (valid, true), // binary frame
            18 => (Req($"{{\"type\":12,\"event\":{{\"id\":\"{Guid.NewGuid()}\"}}}}"), false), // undo of an unknown event
            _ => (Req("{\"type\":\"4\",\"value\":1}"), false), // type as a string
        };
    }
}
