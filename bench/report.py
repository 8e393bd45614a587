#!/usr/bin/env python3
"""Summarises bench/run.sh's raw records (one JSON object per line) into the markdown
report on stdout, and writes the data files bench/plots.gp turns into PNGs.

Every figure is the median of its repetitions with the min-max range; ratios divide
medians taken in the same run (the pgbench floor is the yardstick), except the peer
ratios, which divide by figures from another run and say so."""
import argparse
import json
import os
import statistics

ap = argparse.ArgumentParser()
ap.add_argument("--raw", required=True)
ap.add_argument("--env", required=True)
ap.add_argument("--peers", required=True)
ap.add_argument("--out", required=True)
args = ap.parse_args()

records = [json.loads(line) for line in open(args.raw) if line.strip().startswith("{")]
env = json.load(open(args.env))
peers = json.load(open(args.peers))


def pick(figure, **match):
    # Drain records from before --prefetch existed count as prefetch 0.
    return [r for r in records if r["figure"] == figure and
            all(r.get(k, 0 if k == "prefetch" else None) == v for k, v in match.items())]


class Stat:
    def __init__(self, values):
        self.values = sorted(values)
        self.n = len(values)
        self.median = statistics.median(values) if values else None
        self.lo = self.values[0] if values else None
        self.hi = self.values[-1] if values else None


def stat(rows, key="per_s"):
    return Stat([r[key] for r in rows if key in r])


def num(x, digits=0):
    if x is None:
        return "—"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def rng(s, digits=0):
    return "—" if s.median is None else f"{num(s.lo, digits)}–{num(s.hi, digits)}"


def ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}"


def verdict(ok):
    return "—" if ok is None else ("met" if ok else "**missed**")


# ------------------------------------------------------------------ figures
floor = {
    "enqueue_single": stat(pick("floor_enqueue_single")),
    "enqueue_bulk": stat(pick("floor_enqueue_bulk")),
    "drain_perjob_c1": stat(pick("floor_drain_perjob", clients=1)),
    "drain_perjob_c4": stat(pick("floor_drain_perjob", clients=4)),
    "drain_batch100_c1": stat(pick("floor_drain_batch100", clients=1)),
    "drain_batch100_c4": stat(pick("floor_drain_batch100", clients=4)),
}
batched_floor = max((floor[k].median or 0) for k in ("drain_batch100_c1", "drain_batch100_c4"))
batched_floor_name = max(("drain_batch100_c1", "drain_batch100_c4"), key=lambda k: floor[k].median or 0)

push_client = stat(pick("push_single", config="client"))
push_prepared = stat(pick("push_single", config="prepared"))
push_bulk = stat(pick("push_bulk"))
histories = sorted({r.get("history", 0) for r in pick("drain", prefetch=0)})
base_history = histories[0] if histories else 0
concurrencies = sorted({r["concurrency"] for r in pick("drain", prefetch=0)})
# The worker sweep runs on an empty history; the history block repeats concurrency 16.
sweep = {c: [r for r in pick("drain", concurrency=c, prefetch=0) if r.get("history", 0) == base_history] for c in concurrencies}
# --prefetch runs: (concurrency, prefetch) -> rows, on the same (empty) history.
# pgtqd's defaults (prefetch -1: auto), recorded since prefetch = auto became the default.
defaults = [r for r in pick("drain") if r.get("prefetch", 0) == -1 and r.get("history", 0) == base_history]
prefetched = {}
for r in pick("drain"):
    if r.get("prefetch", 0) > 0 and r.get("history", 0) == base_history:
        prefetched.setdefault((r["concurrency"], r["prefetch"]), []).append(r)
drain = {c: stat(rows) for c, rows in sweep.items()}
best_c = max(drain, key=lambda c: drain[c].median or 0) if drain else None
latency = {k: stat(pick("latency"), k) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms",
                                                  "claim_p50_ms", "claim_p95_ms", "claim_p99_ms")}
history_c = 16
history = {h: stat([r for r in pick("drain", concurrency=history_c, prefetch=0) if r.get("history") == h]) for h in histories}
rss16 = stat(sweep.get(16, []), "rss_max_kib")
hwm16 = stat(sweep.get(16, []), "hwm_kib")
soaks = pick("soak")

graphile_drain = peers["drain"]["graphile-worker 0.18 (concurrency 32, localQueue 64, batched completion)"]

# ------------------------------------------------------------------ report
out = []
w = out.append
w(f"Machine: {env['nproc']} cores ({env['cpu']}), {env['mem_gib']} GiB RAM, {env['os']}, "
  f"kernel {env['kernel']}; disk: {env.get('fdatasync_per_s', 0):,.0f} fdatasync/s (pg_test_fsync, 8 kB), "
  f"load average at start {env.get('loadavg', '?')}; {env['pg_version'].split(' on ')[0]}; pgtq {env['pgtq_commit']}"
  f"{' (with uncommitted daemon/sql changes)' if env.get('pgtq_dirty') else ''}; {env['date']}; "
  f"{'QUICK mode, ' if env.get('quick') else ''}{env['reps']} repetition(s).")
w("")
probes = pick("fsync_probe")
if probes:
    w("Disk flushes during the run (pg_test_fsync fdatasync/s, with the load average): " +
      "; ".join(f"{r['config']}: {r['per_s']:,.0f} ({r['loadavg']})" for r in probes) + ".")
    w("")
w("Server: " + ", ".join(f"{k}={v}" for k, v in env["settings"].items()) + ".")
w("")
w("| figure | pgtq median | range | n | in-run floor | pgtq / floor | target | |")
w("|---|---:|---|---:|---:|---:|---|---|")


def row(name, s, floor_value, target_text, ok, digits=0):
    w(f"| {name} | {num(s.median, digits)} | {rng(s, digits)} | {s.n} | {num(floor_value)} | "
      f"{ratio(s.median, floor_value)} | {target_text} | {verdict(ok)} |")


fe = floor["enqueue_single"].median
row("push, 1 per transaction, client.hpp `pgtq::push` (tasks/s)", push_client, fe, "≥ 0.8× floor",
    None if push_client.median is None or not fe else push_client.median >= 0.8 * fe)
row("push, 1 per transaction, client.hpp `PreparedPusher` (tasks/s)", push_prepared, fe, "≥ 0.8× floor",
    None if push_prepared.median is None or not fe else push_prepared.median >= 0.8 * fe)
fb = floor["enqueue_bulk"].median
row("push, 1,000 per call, `push_many` (tasks/s)", push_bulk, fb, "≥ 0.7× floor",
    None if push_bulk.median is None or not fb else push_bulk.median >= 0.7 * fb)
push16 = stat(pick("push_concurrent"))
insert16 = stat(pick("floor_push_insert"))
row(f"push, 1 per transaction, `pgtq.push` from {pick('push_concurrent')[0]['clients'] if pick('push_concurrent') else '?'} "
    "clients at once, no pgtqd (tasks/s; floor: plain INSERT of a live_tasks-shaped row, same clients)",
    push16, insert16.median, "≥ 0.8× floor",
    None if push16.median is None or not insert16.median else push16.median >= 0.8 * insert16.median)
for c in concurrencies:
    s = drain[c]
    row(f"drain {sweep[c][0]['tasks']:,} queued no-op tasks, pgtqd --concurrency {c} --prefetch 0 (tasks/s)",
        s, batched_floor, "", None)
if defaults:
    s = stat(defaults)
    target = max(0.5 * batched_floor, 2 * graphile_drain)
    row(f"drain {defaults[0]['tasks']:,} queued no-op tasks at pgtqd's defaults (concurrency "
        f"{defaults[0]['concurrency']}, prefetch auto, isolation {defaults[0].get('isolation', 'default')}) (tasks/s)",
        s, batched_floor, f"≥ 0.5× batched floor and ≥ 2× graphile ({num(target)})",
        s.median >= target if s.median else None)
    # The defaults are also the best settings the README documents.
    row("the same, as the best documented settings (tasks/s)", s, batched_floor, "≥ 0.7× batched floor",
        s.median >= 0.7 * batched_floor if s.median and batched_floor else None)
for (c, p), rows in sorted(prefetched.items()):
    s = stat(rows)
    row(f"drain {rows[0]['tasks']:,} queued no-op tasks, pgtqd --concurrency {c} --prefetch {p} (tasks/s)",
        s, batched_floor, "", None)
for key, label, limit in (("p50_ms", "p50", 0.5), ("p95_ms", "p95", None), ("p99_ms", "p99", 1.5)):
    s = latency[key]
    w(f"| pickup latency {label}, push commit → handler start (ms) | {num(s.median, 2)} | {rng(s, 2)} | {s.n} | | | "
      f"{'< ' + str(limit) + ' ms' if limit else ''} | {verdict(None if limit is None or s.median is None else s.median < limit)} |")
base = history.get(0, Stat([]))
for h in histories:
    if h == 0:
        continue
    s = history[h]
    rel = None if not base.median or s.median is None else s.median / base.median
    w(f"| drain with {num(h)} finished tasks kept, concurrency {history_c} (tasks/s) | {num(s.median)} | {rng(s)} | {s.n} | "
      f"{num(base.median)} (empty history) | {ratio(s.median, base.median)} | within 10 % of empty | "
      f"{verdict(None if rel is None else rel >= 0.9) if h >= 1000000 else ''} |")
w(f"| pgtqd max RSS while draining, concurrency 16 (MiB) | {num(rss16.median and rss16.median / 1024, 1)} | "
  f"{rng(Stat([v / 1024 for v in rss16.values]), 1)} | {rss16.n} | | | < 30 MiB | "
  f"{verdict(None if rss16.median is None else rss16.median < 30 * 1024)} |")
for s in soaks:
    samples = s["rss_kib"]
    if len(samples) >= 3:
        start = samples[min(5, len(samples) - 1)][1]  # after the first few seconds of warm-up
        mid = samples[len(samples) // 2][1]
        end = samples[-1][1]
        flat = end <= start * 1.1 + 1024
        w(f"| pgtqd RSS over a {s['seconds']} s soak, {s['config']}: at {samples[min(5, len(samples) - 1)][0]} s / "
          f"{samples[len(samples) // 2][0]} s / {samples[-1][0]} s (MiB) | {start / 1024:.1f} / {mid / 1024:.1f} / {end / 1024:.1f} | "
          f"HWM {s['hwm_kib'] / 1024:.1f} | 1 | | | flat, < 30 MiB | {verdict(flat and max(x[1] for x in samples) < 30 * 1024)} |")
w("")
w(f"Batched floor used for drain: {batched_floor_name.replace('drain_batch100_c', 'claim 100 + one DELETE, ')} client(s). "
  f"Drain rates include pgtqd's start-up (clock from process start, as the peers were timed from their worker start call).")
w("")

w("### Floor (pgbench -M prepared, same server, same run)")
w("")
w("| floor figure | clients | jobs/s median | range | n |")
w("|---|---:|---:|---|---:|")
for key, label, clients in (("enqueue_single", "enqueue: 1 INSERT per commit", 1),
                            ("enqueue_bulk", "enqueue: 1000-row INSERT per commit", 1),
                            ("drain_perjob_c1", "drain pre-queued: claim 1 + DELETE", 1),
                            ("drain_perjob_c4", "drain pre-queued: claim 1 + DELETE", 4),
                            ("drain_batch100_c1", "drain pre-queued: claim 100 + one DELETE", 1),
                            ("drain_batch100_c4", "drain pre-queued: claim 100 + one DELETE", 4)):
    s = floor[key]
    w(f"| {label} | {clients} | {num(s.median)} | {rng(s)} | {s.n} |")
w("")

w("### Drain: where the time goes (medians)")
w("")
w("| concurrency | prefetch | history | tasks/s | × batched floor | pgtqd CPU ms / 1k tasks | postgres CPU ms / 1k tasks | wall ms / 1k tasks | pgtqd max RSS MiB | VmHWM MiB |")
w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (c, p, h), rows in sorted({(r["concurrency"], r.get("prefetch", 0), r.get("history", 0)): None
                               for r in pick("drain")}.items()):
    rs = [r for r in pick("drain", concurrency=c, prefetch=p) if r.get("history", 0) == h]
    per_k = lambda key: statistics.median([r[key] / r["tasks"] * 1e6 for r in rs])
    tps = statistics.median([r["per_s"] for r in rs])
    w(f"| {c} | {'auto' if p == -1 else p} | {num(h)} | {num(tps)} | {ratio(tps, batched_floor)} | {per_k('pgtqd_cpu_s'):.0f} | {per_k('postgres_cpu_s'):.0f} | "
      f"{per_k('seconds'):.0f} | {statistics.median([r['rss_max_kib'] for r in rs]) / 1024:.1f} | "
      f"{statistics.median([r['hwm_kib'] for r in rs]) / 1024:.1f} |")
w("")
w(f"Pickup latency measured at the claim instead (claim transaction start − push commit ack): "
  f"p50 {num(latency['claim_p50_ms'].median, 2)} ms, p95 {num(latency['claim_p95_ms'].median, 2)} ms, "
  f"p99 {num(latency['claim_p99_ms'].median, 2)} ms; worst single task (median over runs) {num(latency['max_ms'].median, 2)} ms.")
w("")

w(f"### Against the peers (their figures are from another run: {peers['source']})")
w("")
w("The machine's speed drifts between runs, so the last column divides each side by the floor "
  "of its own run first (the floor the peer run measured is in the peers file).")
w("")
w("| figure | pgtq (this run) | peer | peer figure | pgtq / peer | same, each over its own floor |")
w("|---|---:|---|---:|---:|---:|")
pf = peers.get("floor", {})
def own(pgtq_v, floor_v, peer_v, peer_floor_v):
    if not pgtq_v or not floor_v or not peer_v or not peer_floor_v:
        return "—"
    return f"{(pgtq_v / floor_v) / (peer_v / peer_floor_v):.2f}"
peer_batched = max(pf.get("drain_batch100_c1", 0), pf.get("drain_batch100_c4", 0))
best_push = push_prepared if (push_prepared.median or 0) >= (push_client.median or 0) else push_client
for name, v in peers["push_single"].items():
    w(f"| push, 1 per transaction (tasks/s) | {num(best_push.median)} | {name} | {num(v)} | {ratio(best_push.median, v)} | "
      f"{own(best_push.median, fe, v, pf.get('enqueue_single'))} |")
for name, v in peers["push_bulk"].items():
    w(f"| push, 1,000 per call (tasks/s) | {num(push_bulk.median)} | {name} | {num(v)} | {ratio(push_bulk.median, v)} | "
      f"{own(push_bulk.median, floor['enqueue_bulk'].median, v, pf.get('enqueue_bulk'))} |")
if best_c is not None:
    for name, v in peers["drain"].items():
        if defaults:
            m = stat(defaults).median
            w(f"| drain 20k no-op (tasks/s), pgtq at its defaults | {num(m)} | {name} | {num(v)} | {ratio(m, v)} | "
              f"{own(m, batched_floor, v, peer_batched)} |")
        w(f"| drain 20k no-op (tasks/s), pgtq at concurrency {best_c} | {num(drain[best_c].median)} | {name} | {num(v)} | {ratio(drain[best_c].median, v)} | "
          f"{own(drain[best_c].median, batched_floor, v, peer_batched)} |")
        for (c, p), rows in sorted(prefetched.items()):
            m = stat(rows).median
            w(f"| drain 20k no-op (tasks/s), pgtq at concurrency {c} prefetch {p} | {num(m)} | {name} | {num(v)} | {ratio(m, v)} | "
              f"{own(m, batched_floor, v, peer_batched)} |")
for name, (p50, p95, p99) in peers["latency"].items():
    w(f"| pickup latency p50 / p99 (ms) | {num(latency['p50_ms'].median, 2)} / {num(latency['p99_ms'].median, 2)} | {name} | "
      f"{p50:.2f} / {p99:.2f} | {ratio(latency['p50_ms'].median, p50)} / {ratio(latency['p99_ms'].median, p99)} | — |")
print("\n".join(out))

# ------------------------------------------------------------------ plot data
with open(os.path.join(args.out, "drain_vs_workers.dat"), "w") as f:
    f.write("# concurrency median min max batched_floor graphile_peer\n")
    for c in concurrencies:
        s = drain[c]
        f.write(f"{c} {s.median:.0f} {s.lo:.0f} {s.hi:.0f} {batched_floor:.0f} {graphile_drain}\n")
with open(os.path.join(args.out, "drain_vs_history.dat"), "w") as f:
    f.write("# finished_tasks median min max\n")
    for h in histories:
        s = history[h]
        if s.median is not None:
            f.write(f"{h} {s.median:.0f} {s.lo:.0f} {s.hi:.0f}\n")
