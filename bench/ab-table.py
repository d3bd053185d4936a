#!/usr/bin/env python3
"""The before/after tables of bench/README.md from the JSON that bench/before-after.sh wrote.

    python3 bench/ab-table.py [bench/results-ab]

Each figure is the median of the repeats, with the range in brackets when there were several.
"""
import glob
import json
import os
import statistics
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results-ab")


def runs(name, side):
    """Metrics of every repeat of scenario `name` for side before|after|baseline."""
    label = f"ab-{name}-baseline" if side == "baseline" else f"ab-{name}-{side}"
    found = []
    for path in sorted(glob.glob(os.path.join(root, "r*", f"{label}-*.json"))):
        base = os.path.basename(path)
        # "ab-fanout-after-..." must not pick up "ab-fanout-10rps-after-...".
        if side == "baseline":
            if not base.startswith(f"ab-{name}-baseline-r"):
                continue
        elif not base.startswith(f"{label}-ott"):
            continue
        with open(path) as f:
            found.append(json.load(f)["metrics"])
    return found


def fmt(values, digits):
    if not values:
        return "–"
    med = statistics.median(values)
    text = f"{med:,.{digits}f}"
    if len(values) > 1 and min(values) != max(values):
        text += f" [{min(values):,.{digits}f}–{max(values):,.{digits}f}]"
    return text


def metric(ms, key, digits=2):
    return fmt([m[key] for m in ms if m.get(key) is not None], digits)


print("| scenario | | p50 ms | p99 ms | server CPU % | µs CPU per delivery | lost |")
print("|---|---|---:|---:|---:|---:|---:|")
for name, title in [
    ("fanout", "fanout: 100 rooms × 10, 2 mutations/s per room (2,000 deliveries/s)"),
    ("fanout-10rps", "mutation path: the same at 10 mutations/s per room (10,000 deliveries/s)"),
    ("chatty", "chatty: 40 rooms × 5, a chat every 50 ms (20,000 deliveries/s)"),
    ("chatty-100k", "chatty at the sweep's 100,000 deliveries/s point: 200 rooms × 5"),
]:
    for i, side in enumerate(["before", "after", "baseline"]):
        ms = runs(name, side)
        if not ms:
            continue
        first = title if i == 0 else ""
        print(f"| {first} | {side} | {metric(ms, 'p50_ms')} | {metric(ms, 'p99_ms', 1)} | {metric(ms, 'server_cpu_pct', 1)} "
              f"| {metric(ms, 'server_cpu_us_per_delivery', 2)} | {metric(ms, 'lost', 0)} |")

print()
print("| idle authenticated sockets | before | after | baseline |")
print("|---|---:|---:|---:|")
for name, n in [("idle-2000", "2,000"), ("idle-15000", "15,000")]:
    sides = [runs(name, s) for s in ("before", "after", "baseline")]
    print(f"| {n}: RSS per socket, KB | " + " | ".join(metric(ms, "server_rss_per_socket_kb", 1) for ms in sides) + " |")
    above = [[(m["server_rss_after_mb"] - m["server_rss_before_mb"]) for m in ms] for ms in sides]
    print(f"| {n}: RSS above the empty process, MB | " + " | ".join(fmt(a, 1) for a in above) + " |")
    print(f"| {n}: server CPU while held, % | " + " | ".join(metric(ms, "server_cpu_pct_idle", 1) for ms in sides) + " |")

print()
print("| forward: 2 nodes, 50 rooms | before | after |")
print("|---|---:|---:|")
sides = [runs("forward", s) for s in ("before", "after")]
for key, what in [("owner_p50_ms", "owner side p50"), ("owner_p99_ms", "owner side p99"), ("gateway_p50_ms", "gateway side p50"),
                  ("gateway_p99_ms", "gateway side p99"), ("forward_cost_p50_ms", "forwarding's own cost p50"),
                  ("forward_cost_p99_ms", "forwarding's own cost p99"), ("server_cpu_pct", "CPU of both nodes, %"),
                  ("node1_cpu_pct", "owner node CPU, %"), ("node2_cpu_pct", "gateway node CPU, %"), ("lost", "lost")]:
    print(f"| {what} | " + " | ".join(metric(ms, key, 2 if key.endswith('ms') else 0 if key == 'lost' else 1) for ms in sides) + " |")
# 1,000 requests/s; each is one event and one sync to both of its room's clients.
print("| µs of CPU per request (1,000 requests/s) | " + " | ".join(
    fmt([m["server_cpu_pct"] / 100 * 1e6 / m["sends_per_s"] for m in ms], 0) for ms in sides) + " |")

print()
print("| failover: 3 nodes, 2 s leases, SIGKILL of the owner of 20 rooms | before | after |")
print("|---|---:|---:|")
sides = [runs("failover", s) for s in ("before", "after")]
for key, what in [("recovered", "rooms recovered (of 20)"), ("recovery_p50_ms", "signal → first acknowledged change, p50 ms"),
                  ("recovery_p99_ms", "signal → first acknowledged change, p99 ms"), ("new_lease_p50_ms", "signal → lease taken by another node, p50 ms"),
                  ("error_frames", "error frames")]:
    print(f"| {what} | " + " | ".join(metric(ms, key, 0) for ms in sides) + " |")
