#!/usr/bin/env bash
# Where a server's CPU goes under a bench load: `perf record` of the server process for 8 s in the middle of a
# 24 s run, with the .NET perf map so managed frames have names, then the samples summed by owner (kernel
# scheduling, kernel TCP/IP, the runtime, Kestrel and pipelines, ManagedWebSocket, Ott, ...).
#   bash bench/profile.sh ott      <label> <scenario args...>   # bin/Release/net10.0/Ott.dll (or OTT_DLL=...)
#   bash bench/profile.sh baseline <label> <scenario args...>
#   bash bench/profile.sh ott chatty-100k chatty --store redis --rooms 200 --members 5
#   WARMUP=30 bash bench/profile.sh ...   # record after a 30 s warm-up instead of 8 s: the steady state, past the
#                                         # tiered JIT's recompiling (which still runs 10 s into a run)
# Needs perf (apt-get install -y linux-perf) and python3. Writes /tmp/perf-<label>.data; prints the bench's
# figures and the table. perf's own sampling costs a few per cent of CPU, so take latency figures from runs
# without it.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=$1; label=$2; shift 2
bench=bench/Ott.Bench/bin/Release/net10.0/Ott.Bench.dll
if [ "$kind" = baseline ]; then
  dll=$PWD/bench/Ott.Bench.Baseline/bin/Release/net10.0/Ott.Bench.Baseline.dll
  target=(--target baseline)
else
  dll=$(realpath "${OTT_DLL:-bin/Release/net10.0/Ott.dll}")
  target=(--ott-dll "$dll")
fi
log=/tmp/bench-$label.log
# Names for JIT-compiled code (/tmp/perf-<pid>.map); W^X off so the code is not mapped twice.
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
warmup=${WARMUP:-}
dotnet $bench run "$@" "${target[@]}" ${warmup:+--warmup "$warmup"} --duration 24 --repeats 1 --label "$label" --out "/tmp/bench-$label" > "$log" 2>&1 &
run=$!
pid=
for _ in $(seq 1 240); do
  pid=$(pgrep -f "^dotnet $dll" | head -1 || true)
  if [ -n "$pid" ] && grep -q "delivered [1-9]" "$log"; then break; fi
  sleep 0.5
done
[ -n "$pid" ] || { echo "no server process for $dll"; kill $run; exit 1; }
sleep 8 # past the joins and tier-1 JIT (with WARMUP, the bench reports deliveries only after its warm-up)
pid=$(pgrep -f "^dotnet $dll" | head -1 || true)
[ -n "$pid" ] || { echo "the server process for $dll is gone"; kill $run; exit 1; }
perf record -F 499 -g -p "$pid" -o "/tmp/perf-$label.data" -- sleep 8 > "/tmp/perf-$label.err" 2>&1 || { cat "/tmp/perf-$label.err"; exit 1; }
wait $run
grep -E "│ (offered_per_s|delivered_per_s|lost|p50_ms|p99_ms|server_cpu_pct|server_cpu_us_per_delivery) " "$log" || tail -5 "$log"
perf report -i "/tmp/perf-$label.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | python3 -c '
import re, sys
rules = [
    ("kernel: scheduling, wake-ups, epoll", r"\[kernel.*\].*(schedule|task_switch|spin_unlock_irq|wake|futex|epoll|ep_|hrtimer|irqentry|exit_to_user|select_task|enqueue|dequeue|update_curr|pick_next|ttwu|native_queued|raw_spin)"),
    ("kernel: TCP/IP, syscalls, copies", r"\[kernel"),
    ("runtime native: GC, stubs, JIT, thread pool", r"libcoreclr|libclrjit|\bstub\b|libSystem\.Native|\] 0x0000"),
    ("libc", r"libc\.so|ld-linux|vdso"),
    ("Ott", r"\[Ott\]|\bOtt\.(Sync|Room)"),
    ("OpenTelemetry", r"OpenTelemetry"),
    ("System.Text.Json", r"System\.Text\.Json"),
    ("StackExchange.Redis", r"StackExchange"),
    ("ManagedWebSocket", r"WebSockets"),
    ("Kestrel, pipelines, sockets", r"Kestrel|Pipelines|System\.Net\.Sockets|AspNetCore|MemoryPool"),
    ("CoreLib: async, threads, collections", r"CoreLib|System\.Collections|System\.Threading|System\.Runtime"),
    ("other", r"."),
]
sums = {name: 0.0 for name, _ in rules}
for line in sys.stdin:
    m = re.match(r"\s+([\d.]+)%\s+(.*)", line)
    if not m:
        continue
    for name, rx in rules:
        if re.search(rx, m.group(2)):
            sums[name] += float(m.group(1))
            break
total = sum(sums.values()) or 1
for name, pct in sums.items():
    print(f"{100 * pct / total:5.1f}%  {name}")
'
