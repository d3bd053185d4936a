using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Connections;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Web;

// TestServer sockets have no ping/pong (docs/architecture.md §15.2), so this app runs on real Kestrel.
public sealed class KestrelKeepAliveApplication : OttApplication
{
    public KestrelKeepAliveApplication()
    {
        Settings["Connections:KeepAliveInterval"] = "00:00:01";
        // An explicit loopback listener on port 0 rather than UseKestrel(0): the latter rewrites the
        // server addresses after the host is built, which intermittently fails with "cannot be
        // modified after the server has started".
        UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
    }

    public Uri Address => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public override async Task InitializeAsync()
    {
        await Backend.InitializeAsync();
        StartServer();
    }

    // The REST helpers of OttApplication speak to TestServer; these speak to Kestrel.
    public async Task<(string Room, string Token)> CreateRoomOverHttpAsync(CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = Address };
        var token = JsonNode.Parse(await http.GetStringAsync("/api/auth/grant", ct))!["token"]!.GetValue<string>();
        var room = NewRoomName();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/room/create")
        {
            Content = Json(new JsonObject { ["name"] = room, ["isTemporary"] = true }),
        };
        request.Headers.Authorization = new("Bearer", token);
        using var response = await http.SendAsync(request, ct);
        Assert.Equal(201, (int)response.StatusCode);
        return (room, token);
    }
}

// docs/protocol.md §1.8: a ping frame goes to every connection, authenticated or not, at least every 10 s.
public sealed class KeepAliveTests(KestrelKeepAliveApplication app) : IClassFixture<KestrelKeepAliveApplication>
{
    [Fact]
    public void DefaultKeepAliveIntervalIsAtMostTenSeconds() =>
        Assert.True(new ConnectionsOptions().KeepAliveInterval <= TimeSpan.FromSeconds(10));

    [Fact]
    public async Task UnauthenticatedSocketIsPingedRepeatedly()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, _) = await app.CreateRoomOverHttpAsync(cts.Token);
        using var socket = await RawSocket.ConnectAsync(app.Address, $"/api/room/{room}", cts.Token);
        var clock = Stopwatch.StartNew();
        await socket.ReadUntilPingAsync(cts.Token);
        await socket.ReadUntilPingAsync(cts.Token);
        // Two pings within the test budget, with a 1 s interval configured.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AuthenticatedSocketIsPingedRepeatedly()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, token) = await app.CreateRoomOverHttpAsync(cts.Token);
        using var socket = await RawSocket.ConnectAsync(app.Address, $"/api/room/{room}", cts.Token);
        await socket.SendTextAsync(new JsonObject { ["action"] = "auth", ["token"] = token }.ToJsonString(), cts.Token);
        var before = await socket.ReadUntilPingAsync(cts.Token);
        await socket.ReadUntilPingAsync(cts.Token);
        // The handshake went through on this socket: its frames came with (or before) the pings.
        Assert.Contains(before.Concat(socket.Texts), t => JsonNode.Parse(t)!["action"]!.GetValue<string>() == "you");
    }

    [Fact]
    public async Task ClientPingIsAnsweredWithItsPayload()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, _) = await app.CreateRoomOverHttpAsync(cts.Token);
        using var socket = await RawSocket.ConnectAsync(app.Address, $"/api/room/{room}", cts.Token);
        var payload = Encoding.ASCII.GetBytes("are-you-there");
        await socket.SendPingAsync(payload, cts.Token);
        Assert.Equal(payload, await socket.ReadUntilPongAsync(cts.Token));
    }

    // A hand-written RFC 6455 client: enough to upgrade, send masked text frames, and see control frames.
    private sealed class RawSocket : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;

        private RawSocket(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
        }

        public List<string> Texts { get; } = [];

        public static async Task<RawSocket> ConnectAsync(Uri server, string path, CancellationToken ct)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(server.Host, server.Port, ct);
            var socket = new RawSocket(tcp);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = $"GET {path} HTTP/1.1\r\nHost: {server.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await socket._stream.WriteAsync(Encoding.ASCII.GetBytes(request), ct);
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                await socket._stream.ReadExactlyAsync(one, ct);
                head.Append((char)one[0]);
            }
            Assert.StartsWith("HTTP/1.1 101", head.ToString(), StringComparison.Ordinal);
            return socket;
        }

        public Task SendPingAsync(byte[] payload, CancellationToken ct) => SendFrameAsync(0x9, payload, ct);

        public async Task SendTextAsync(string text, CancellationToken ct) => await SendFrameAsync(0x1, Encoding.UTF8.GetBytes(text), ct);

        private async Task SendFrameAsync(byte opcode, byte[] payload, CancellationToken ct)
        {
            var header = new List<byte> { (byte)(0x80 | opcode) };
            if (payload.Length < 126)
            {
                header.Add((byte)(0x80 | payload.Length));
            }
            else
            {
                header.Add(0x80 | 126);
                header.Add((byte)(payload.Length >> 8));
                header.Add((byte)payload.Length);
            }
            var mask = RandomNumberGenerator.GetBytes(4);
            header.AddRange(mask);
            var masked = payload.Select((b, i) => (byte)(b ^ mask[i % 4])).ToArray();
            await _stream.WriteAsync(header.Concat(masked).ToArray(), ct);
        }

        /// <summary>Reads frames until a ping (opcode 0x9), answering it; returns the text frames read on the way.</summary>
        public async Task<List<string>> ReadUntilPingAsync(CancellationToken ct)
        {
            var texts = new List<string>();
            await ReadUntilAsync(0x9, texts, ct);
            return texts;
        }

        /// <summary>Reads frames until a pong (opcode 0xA), answering pings on the way; returns its payload.</summary>
        public Task<byte[]> ReadUntilPongAsync(CancellationToken ct) => ReadUntilAsync(0xA, [], ct);

        private async Task<byte[]> ReadUntilAsync(int wanted, List<string> texts, CancellationToken ct)
        {
            while (true)
            {
                var head = new byte[2];
                await _stream.ReadExactlyAsync(head, ct);
                var opcode = head[0] & 0x0F;
                long length = head[1] & 0x7F;
                if (length == 126)
                {
                    var ext = new byte[2];
                    await _stream.ReadExactlyAsync(ext, ct);
                    length = BinaryPrimitives.ReadUInt16BigEndian(ext);
                }
                else if (length == 127)
                {
                    var ext = new byte[8];
                    await _stream.ReadExactlyAsync(ext, ct);
                    length = (long)BinaryPrimitives.ReadUInt64BigEndian(ext);
                }
                var payload = new byte[length];
                await _stream.ReadExactlyAsync(payload, ct);
                switch (opcode)
                {
                    case 0x1:
                        texts.Add(Encoding.UTF8.GetString(payload));
                        Texts.Add(Encoding.UTF8.GetString(payload));
                        break;
                    case 0x8:
                        throw new InvalidOperationException("The server closed the socket before pinging it.");
                    case 0x9:
                        await SendFrameAsync(0xA, payload, ct);
                        break;
                }
                if (opcode == wanted)
                {
                    return payload;
                }
            }
        }

        public void Dispose()
        {
            _stream.Dispose();
            _tcp.Dispose();
        }
    }
}
