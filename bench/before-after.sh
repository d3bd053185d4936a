#!/usr/bin/env bash
# Before/after comparison for one machine and one session: every scenario of issue #19's report, run against
# a Release build of an older commit ("before"), of this checkout ("after") and, where it applies, the raw-Kestrel
# baseline, interleaved so that drifting machine load hits all three alike.
#   bash bench/before-after.sh [before-commit]    # default aecd4c9, the code the issue measured
#   REPEATS=1 bash bench/before-after.sh          # a quicker look
# Results: bench/results-ab/<label>-<target>-r<k>.json (labels ab-<scenario>-before / -after, baseline under
# ab-<scenario>), plus machine.txt. bench/README.md "Before and after" has the figures of the last full run.
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:-aecd4c9}
repeats=${REPEATS:-3}
out=bench/results-ab
tree=/tmp/ott-bench-before

command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install -y redis-server)"; exit 1; }
if [ ! -f "$tree/bin/Release/net10.0/Ott.dll" ] || [ "$(git -C "$tree" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$before")" ]; then
  rm -rf "$tree"; git worktree prune
  git worktree add --detach "$tree" "$before"
  dotnet build "$tree/Ott.csproj" -c Release -v q -nologo
fi
dotnet build Ott.csproj -c Release -v q -nologo
dotnet build bench/Ott.Bench.Baseline/Ott.Bench.Baseline.csproj -c Release -v q -nologo
dotnet build bench/Ott.Bench/Ott.Bench.csproj -c Release -v q -nologo
rm -rf "$out" && mkdir -p "$out"

bench=bench/Ott.Bench/bin/Release/net10.0/Ott.Bench.dll
old=$tree/bin/Release/net10.0/Ott.dll
new=bin/Release/net10.0/Ott.dll
# One repeat of each target in turn, REPEATS times: ab <name> [--baseline] <scenario args...>
ab() {
  local name=$1; shift
  local baseline=no
  if [ "$1" = "--baseline" ]; then baseline=yes; shift; fi
  for r in $(seq 1 "$repeats"); do
    dotnet $bench run "$@" --ott-dll "$old" --label "ab-$name-before" --repeats 1 --out "$out/r$r" | tail -1
    dotnet $bench run "$@" --ott-dll "$new" --label "ab-$name-after" --repeats 1 --out "$out/r$r" | tail -1
    if [ $baseline = yes ]; then
      dotnet $bench run "$@" --target baseline --label "ab-$name" --repeats 1 --out "$out/r$r" | tail -1
    fi
  done
}

{ echo "before: $(git rev-parse --short "$before")  after: $(git rev-parse --short HEAD)"
  echo "nproc: $(nproc)"; lscpu | grep -E 'Model name'; grep MemTotal /proc/meminfo; redis-server --version
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; } > "$out/machine.txt"
start=$(date +%s)
# Every load scenario is measured after a 30 s warm-up: the tiered JIT recompiles hot methods for the first
# 20-30 s of a run (dotnet-counters), and with the bench's default 2 s that compilation counts as delivery CPU and
# latency (it more than doubled Ott's mutation-path p99 and CPU: bench/README.md "Before and after issue 19").
# fanout at the standard load (100 rooms x 10, 2 req/s per room) and the mutation path (10 req/s per room)
ab fanout --baseline fanout --store redis --warmup 30 --duration 8
ab fanout-10rps --baseline fanout --store redis --rate 10 --warmup 30 --duration 8
# chatty at the standard load (40 rooms x 5, 20,000 deliveries/s) and the sweep's 100,000 deliveries/s point
ab chatty --baseline chatty --store redis --warmup 30 --duration 8
ab chatty-100k --baseline chatty --store redis --rooms 200 --members 5 --warmup 30 --duration 8
# idle authenticated sockets; the baseline is what a bare Kestrel WebSocket holds
ab idle-2000 --baseline idle --store redis --sockets 2000 --rooms 200 --hold 3
repeats=1; ab idle-15000 --baseline idle --store redis --sockets 15000 --rooms 1500 --hold 5 --join-concurrency 64; repeats=${REPEATS:-3}
# forward (2 nodes) and failover (3 nodes, SIGKILL of the owner of 20 rooms); the baseline has one process
ab forward forward --warmup 30 --duration 10
ab failover failover --rooms 20 --ttl 2
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); runs took $(( $(date +%s) - start )) s" >> "$out/machine.txt"
cat "$out/machine.txt"
