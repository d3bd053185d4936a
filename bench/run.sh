#!/usr/bin/env bash
# Runs the standard scenarios (sized for a 2-core machine; about 10 minutes with 3 repeats, plus a few
# for forward and failover, whose two or three nodes each start and stop per repeat) and
# writes bench/results/*.json, the latency histogram PNGs and the figures section of bench/README.md.
#   bash bench/run.sh            # REPEATS=3 by default
#   REPEATS=1 bash bench/run.sh  # a quicker look
# Every server is a child process on 127.0.0.1 started by the bench (Ott with its own redis-server or
# embedded Garnet, or for fanout-2nodes, forward and failover two or three Ott processes on one
# redis-server; Connections:MaxPerIp=0 and RateLimit:Enabled=false); every load loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${REPEATS:-3}
out=bench/results

command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install -y redis-server)"; exit 1; }
dotnet build Ott.csproj -c Release -v q -nologo
dotnet build bench/Ott.Bench.Baseline/Ott.Bench.Baseline.csproj -c Release -v q -nologo
dotnet build bench/Ott.Bench/Ott.Bench.csproj -c Release -v q -nologo
rm -rf "$out" && mkdir -p "$out"

bench() { dotnet bench/Ott.Bench/bin/Release/net10.0/Ott.Bench.dll run "$@" --repeats "$repeats" --out "$out"; }
once() { dotnet bench/Ott.Bench/bin/Release/net10.0/Ott.Bench.dll run "$@" --repeats 1 --out "$out"; }

# Other work on the machine skews every figure: record the load around the run.
{ echo "nproc: $(nproc)"; lscpu | grep -E 'Model name|^CPU\(s\)'; grep MemTotal /proc/meminfo
  redis-server --version; echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; } > "$out/machine.txt"
start=$(date +%s)
# fanout at a normal load: 100 rooms x 10 members, 2 requests/s per room (200 sends/s, 2,000 deliveries/s).
bench fanout --store redis --warmup 2 --duration 6
bench fanout --store embedded --warmup 2 --duration 6
bench baseline --label fanout --warmup 2 --duration 6
# the same fanout on two Ott nodes sharing one redis-server: rooms are created on (and owned by) node 1,
# member k of each room joins through node k mod 2, so half the members are on a gateway.
bench fanout --label fanout-2nodes --nodes 2 --store redis --warmup 2 --duration 6
# fanout at a heavier load: 10 requests/s per room (1,000 sends/s, 10,000 deliveries/s).
bench fanout --label fanout-10rps --rate 10 --duration 6 --store redis
bench baseline --label fanout-10rps --rate 10 --duration 6
# fanout at the issue's largest size, once (joining 10,000 sockets alone takes ~25 s here):
# 1,000 rooms x 10 members, one request per room every 5 s.
once fanout --label fanout-10k --rooms 1000 --members 10 --rate 0.2 --join-concurrency 64 --store redis
once baseline --label fanout-10k --rooms 1000 --members 10 --rate 0.2 --join-concurrency 64
# chatty: 40 rooms x 5 members, everyone chatting every 50 ms (4,000 chats/s, 20,000 deliveries/s).
bench chatty --store redis --duration 6
bench chatty --target baseline --duration 6
bench joins --store redis
bench joins --store embedded
bench idle --store redis --sockets 2000 --rooms 200 --hold 3
bench idle --store embedded --sockets 2000 --rooms 200 --hold 3
bench restore --store redis --rooms 300
bench restore --store embedded --rooms 300
# forward: 2 nodes, 50 rooms, per room one client on the owner (node 1) and one on a gateway (node 2),
# each seeking every 100 ms; round trip to the sender's own seek, owner side against gateway side.
bench forward --warmup 2 --duration 10
# failover: 3 nodes with 2 s leases; 20 rooms owned by node 1, each with a writer on node 2 seeking every
# 50 ms; node 1 is SIGKILLed (then, in its own run, SIGSTOPped and later continued) and each room's time
# from the signal to its first acknowledged seek sent after it is measured.
bench failover --rooms 20 --ttl 2
bench failover --rooms 20 --ttl 2 --signal stop
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); runs took $(( $(date +%s) - start )) s" >> "$out/machine.txt"
cat "$out/machine.txt"

dotnet bench/Ott.Bench/bin/Release/net10.0/Ott.Bench.dll report --results "$out" --readme bench/README.md > /dev/null
echo "wrote $out and the figures in bench/README.md"
