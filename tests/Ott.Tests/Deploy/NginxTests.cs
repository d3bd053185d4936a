using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Testing;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Faults;
using Ott.Tests.Infrastructure.Faults;

namespace Ott.Tests.Deploy;

// The deployment recipe (README "Behind a load balancer", issue 17): Debian's nginx runs deploy/nginx/ott.conf.template,
// rendered with this test's ports, in front of three child nodes on one Redis. Clients come in through nginx only;
// the room's owner is killed; every client it had reconnects through nginx to a live node, and everyone carries on.
[Collection(FaultCollection.Name)]
public sealed class NginxTests
{
    [Fact]
    public async Task ClientsThroughNginxReconnectToALiveNodeAfterANodeIsKilledAndCarryOn()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var nodes = await cluster.StartAsync(3, ct);
        await FaultKit.WithLogsAsync(cluster, () => cluster.WaitForMembershipAsync(ct));
        await using var nginx = await Nginx.StartAsync(nodes.Select(n => n.BaseAddress), ct);
        using var http = new HttpClient { BaseAddress = nginx.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };

        // A token and a room, through nginx.
        var token = JsonNode.Parse(await http.GetStringAsync(new Uri("/api/auth/grant", UriKind.Relative), ct))!["token"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var room = TestCluster.NewRoomName();
        using (var content = new StringContent(new JsonObject { ["name"] = room, ["isTemporary"] = false }.ToJsonString(), Encoding.UTF8, "application/json"))
        using (var created = await http.PostAsync(new Uri("/api/room/create", UriKind.Relative), content, ct))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        // Six clients through nginx: least_conn spreads them over the three nodes.
        var clients = new List<OttTestClient>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                clients.Add(await OttChildProcess.JoinAsync(nginx.BaseAddress, room, token, ct));
            }
            await ChatReachesEveryoneAsync(clients, "before", ct);

            var owner = await cluster.WaitForOwnerAsync(room, ct);
            await owner.KillAsync();

            // The killed node's clients lose their connection; the others stay.
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(clients.Any(c => c.Closed.IsCompleted)),
                TimeSpan.FromSeconds(10), $"some client through nginx was on the killed node {owner}");
            var lost = clients.Where(c => c.Closed.IsCompleted).ToList();
            var kept = clients.Except(lost).ToList();
            Assert.NotEmpty(kept);

            // Each reconnects through the same nginx address; nginx passes the upgrade to a live node, and the room
            // (its new owner took the lease) lets them back in.
            var clock = Stopwatch.StartNew();
            var back = new List<OttTestClient>();
            foreach (var client in lost)
            {
                await client.DisposeAsync();
                clients.Remove(client);
                var again = await OttChildProcess.JoinAsync(nginx.BaseAddress, room, token, ct);
                clients.Add(again);
                back.Add(again);
            }
            Assert.Equal(lost.Count, back.Count);
            await ChatReachesEveryoneAsync(clients, "after", ct);
            Assert.All(kept, FaultKit.AssertOpen);

            // A change through nginx is acknowledged and persisted by the room's new owner.
            using var add = new StringContent(new JsonObject { ["service"] = "direct", ["id"] = $"https://media.invalid/{room}.mp4" }.ToJsonString(),
                Encoding.UTF8, "application/json");
            using var added = await http.PostAsync(new Uri($"/api/room/{room}/queue", UriKind.Relative), add, ct);
            Assert.True(added.IsSuccessStatusCode, $"add through nginx: {(int)added.StatusCode} {await added.Content.ReadAsStringAsync(ct)}");
            var newOwner = await cluster.WaitForOwnerAsync(room, ct);
            Assert.NotEqual(owner.NodeId, newOwner.NodeId);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"reconnecting took {clock.Elapsed}");
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    // A chat from the first client reaches every client, whichever node it is on.
    private static async Task ChatReachesEveryoneAsync(List<OttTestClient> clients, string text, CancellationToken ct)
    {
        await clients[0].RequestAsync(new JsonObject { ["type"] = 11, ["text"] = text }, ct);
        foreach (var client in clients)
        {
            await client.WaitForAsync(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == text, ct: ct);
        }
    }

    // nginx from the Debian package, in the foreground, with its pid, error log and temp files under a temp dir,
    // and deploy/nginx/ott.conf.template as its http-context config.
    private sealed class Nginx : IAsyncDisposable
    {
        private static readonly string[] Binaries = ["/usr/sbin/nginx", "/usr/bin/nginx"];
        private readonly Process _process;
        private readonly DirectoryInfo _dir;

        private Nginx(Process process, DirectoryInfo dir, int port)
        {
            _process = process;
            _dir = dir;
            BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        }

        public Uri BaseAddress { get; }

        public static async Task<Nginx> StartAsync(IEnumerable<Uri> upstreams, CancellationToken ct)
        {
            var binary = Binaries.FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("nginx was not found: install Debian's nginx (or run bash .ci/run)");
            var dir = Directory.CreateTempSubdirectory("ott-nginx-");
            // Workers run as nobody when the master is root: they must reach the temp dirs below.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(dir.FullName, (UnixFileMode)0b111_101_101);
            }
            var port = LoopbackPort.Free();
            var template = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "deploy", "ott.conf.template"), ct);
            var servers = string.Join(' ', upstreams.Select(u => $"server {u.Host}:{u.Port} max_fails=1 fail_timeout=10s;"));
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "ott.conf"), template
                .Replace("${OTT_LISTEN}", $"127.0.0.1:{port}", StringComparison.Ordinal)
                .Replace("${OTT_UPSTREAM_SERVERS}", servers, StringComparison.Ordinal), ct);
            var d = dir.FullName;
            await File.WriteAllTextAsync(Path.Combine(d, "nginx.conf"), $$"""
                daemon off;
                worker_processes 1;
                pid {{d}}/nginx.pid;
                error_log {{d}}/error.log warn;
                events { worker_connections 256; }
                http {
                    access_log off;
                    client_body_temp_path {{d}}/body;
                    proxy_temp_path {{d}}/proxy;
                    fastcgi_temp_path {{d}}/fastcgi;
                    uwsgi_temp_path {{d}}/uwsgi;
                    scgi_temp_path {{d}}/scgi;
                    include {{d}}/ott.conf;
                }
                """, ct);
            var start = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in (string[])["-e", $"{d}/error.log", "-p", d, "-c", $"{d}/nginx.conf"])
            {
                start.ArgumentList.Add(arg);
            }
            var process = Process.Start(start) ?? throw new InvalidOperationException("nginx did not start");
            var nginx = new Nginx(process, dir, port);
            try
            {
                await WaitUntil.WaitUntilAsync(async () =>
                {
                    if (process.HasExited)
                    {
                        throw new InvalidOperationException($"nginx exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync(ct)}");
                    }
                    try
                    {
                        using var probe = new TcpClient();
                        await probe.ConnectAsync(IPAddress.Loopback, port, ct);
                        return true;
                    }
                    catch (SocketException)
                    {
                        return false;
                    }
                }, TimeSpan.FromSeconds(10), $"nginx listens on 127.0.0.1:{port}");
                return nginx;
            }
            catch
            {
                await nginx.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
            try
            {
                _dir.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
