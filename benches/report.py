#!/usr/bin/env python3
"""compare.sh's report: results.json, table.md and the plot's data files.

    benches/report.py OUT RATE HTTP2

Reads OUT/results.jsonl (wrk, one line per saturation scenario),
OUT/measures.jsonl (CPU ticks of each process around each measured window,
couponbridge's Voucherify calls and Gameball requests, Redis commands),
OUT/openloop.jsonl (benches/openloop.rs) and OUT/memory.json.
"""
import json
import sys

out, rate, http2 = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def lines(path):
    try:
        return [json.loads(line) for line in open(path) if line.strip()]
    except FileNotFoundError:
        return []


# What compare.sh itself asks Redis, not counted as couponbridge's.
HARNESS_COMMANDS = {"info", "flushall", "ping", "config", "client", "hello", "select"}


def ratio(a, b, digits):
    """a / b, or None when b is nothing (a reference that served nothing)."""
    return round(a / b, digits) if b else None


rows = lines(f"{out}/results.jsonl")
by = {r["name"]: r for r in rows}
for m in lines(f"{out}/measures.jsonl"):
    r = by.get(m["name"])
    if not r:
        continue
    before = dict(kv.split("=") for kv in m["before"].split())
    after = dict(kv.split("=") for kv in m["after"].split())
    n = max(r["requests"], 1)
    r["cpu_us"] = {p: round((int(after[p]) - int(before[p])) * 1e6 / m["clk_tck"] / n, 2) for p in before}
    if m["gb_requests"] > 0:
        r["voucherify_calls_per_op"] = round(m["vf_calls"] / m["gb_requests"], 3)
        if "store_calls" in m:  # couponbridge's own count of its lock-store round trips
            r["store_calls_per_op"] = round(m["store_calls"] / m["gb_requests"], 3)
        # Redis's own counts, per command, from INFO commandstats around the
        # window (a script's inner commands counted as themselves too).
        parse = lambda text: {k: tuple(map(int, v.split(":"))) for k, v in (kv.split("=") for kv in text.split())}
        b, a = parse(m["cmdstats_before"]), parse(m["cmdstats_after"])
        ran = {k: (a[k][0] - b.get(k, (0, 0))[0], a[k][1] - b.get(k, (0, 0))[1])
               for k in a if a[k][0] > b.get(k, (0, 0))[0] and k not in HARNESS_COMMANDS}
        r["redis_commands_per_op"] = round(sum(calls for calls, _ in ran.values()) / m["gb_requests"], 3)
        r["redis_by_command"] = {k: {"calls_per_op": round(calls / m["gb_requests"], 3),
                                     "usec_per_call": round(usec / calls, 2)} for k, (calls, usec) in ran.items()}
openloop = {r["name"]: r for r in lines(f"{out}/openloop.jsonl")}
memory = json.load(open(f"{out}/memory.json"))

ops = ("validate", "details", "release")
summary = {}
for op in ops:
    q = {}
    for suffix in ("", "-pinned"):
        cb, ng, bare = (by.get(f"{w}-{op}{suffix}") for w in ("couponbridge", "nginx", "bare"))
        if not (cb and ng and bare):
            continue
        tag = "pinned" if suffix else "unpinned"
        q[f"throughput_vs_nginx_{tag}"] = ratio(cb["rps"], ng["rps"], 3)
        q[f"throughput_vs_bare_{tag}"] = ratio(cb["rps"], bare["rps"], 3)
        if suffix == "" and "cpu_us" in cb and "cpu_us" in ng:
            own, redis, nginx = cb["cpu_us"]["couponbridge"], cb["cpu_us"]["redis"], ng["cpu_us"]["nginx"]
            q.update(
                couponbridge_cpu_us=own,
                redis_cpu_us=redis,
                nginx_cpu_us=nginx,
                couponbridge_vs_nginx_cpu=ratio(own, nginx, 2),
                couponbridge_and_redis_vs_nginx_cpu=ratio(own + redis, nginx, 2),
                voucherify_calls_per_op=cb.get("voucherify_calls_per_op"),
                redis_commands_per_op=cb.get("redis_commands_per_op"),
                store_calls_per_op=cb.get("store_calls_per_op"),
            )
    cb, bare = openloop.get(f"couponbridge-{op}"), openloop.get(f"bare-{op}")
    if cb and bare:
        for p in ("p50", "p99", "p999"):
            q[f"open_loop_{p}_added_ms"] = round(cb[f"{p}_ms"] - bare[f"{p}_ms"], 3)
    summary[op] = q

# The same operation on the instances that isolate one lever.
for name, label, base in (("couponbridge-validate-h2c", "validate, h2c to Voucherify", "nginx-validate"),
                          ("couponbridge-details-nocache", "details, definitions_ttl = 0", "nginx-details")):
    x, ng = by.get(name), by.get(base)
    if not (x and ng and "cpu_us" in x and "cpu_us" in ng):
        continue
    own, redis, nginx = x["cpu_us"]["couponbridge"], x["cpu_us"]["redis"], ng["cpu_us"]["nginx"]
    summary[label] = dict(
        throughput_vs_nginx_unpinned=ratio(x["rps"], ng["rps"], 3), couponbridge_cpu_us=own, redis_cpu_us=redis,
        nginx_cpu_us=nginx, couponbridge_vs_nginx_cpu=ratio(own, nginx, 2),
        couponbridge_and_redis_vs_nginx_cpu=ratio(own + redis, nginx, 2),
        voucherify_calls_per_op=x.get("voucherify_calls_per_op"), redis_commands_per_op=x.get("redis_commands_per_op"),
        store_calls_per_op=x.get("store_calls_per_op"))

json.dump(
    {"http2": http2, "open_loop_rate": rate, "scenarios": rows, "open_loop": list(openloop.values()),
     "summary": summary, "memory": memory},
    open(f"{out}/results.json", "w"),
    indent=2,
)


def cpu(r, p):
    v = r.get("cpu_us", {}).get(p)
    return "" if v is None or v < 0.05 else f"{v:.1f}"


t = ["| scenario | requests/s | p50 ms | p99 ms | p99.9 ms | errors | CPU µs/req: couponbridge | Redis | nginx | simulator |",
     "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    t.append(f"| {r['name']} | {r['rps']:,.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['p999_ms']:.3f} | {r['errors']} | "
             f"{cpu(r, 'couponbridge')} | {cpu(r, 'redis')} | {cpu(r, 'nginx')} | {cpu(r, 'simulator')} |")
t += ["", "| operation | couponbridge/nginx throughput | pinned | couponbridge CPU / nginx CPU | (couponbridge + Redis) / nginx | "
      "Voucherify calls per op | lock-store round trips per op | Redis commands per op (a script's own included) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|"]
fmt = lambda v, f="{:.2f}": "–" if v is None else f.format(v)
for op, q in summary.items():
    t.append(f"| {op} | {fmt(q.get('throughput_vs_nginx_unpinned'))} | {fmt(q.get('throughput_vs_nginx_pinned'))} | "
             f"{fmt(q.get('couponbridge_vs_nginx_cpu'))} ({fmt(q.get('couponbridge_cpu_us'), '{:.1f}')} vs {fmt(q.get('nginx_cpu_us'), '{:.1f}')} µs) | "
             f"{fmt(q.get('couponbridge_and_redis_vs_nginx_cpu'))} | {fmt(q.get('voucherify_calls_per_op'))} | {fmt(q.get('store_calls_per_op'))} | "
             f"{fmt(q.get('redis_commands_per_op'))} |")
t += ["", f"Open loop at {rate:,} requests/s (half of nginx's validation capacity; benches/openloop.rs, latency corrected for coordinated omission):", "",
      "| scenario | achieved/s | p50 ms | p99 ms | p99.9 ms | errors | added over bare p50 / p99 / p99.9 |", "|---|---:|---:|---:|---:|---:|---:|"]
for name, r in openloop.items():
    op = name.split("-", 1)[1]
    bare = openloop.get(f"bare-{op}")
    added = "" if not bare or name.startswith("bare") else \
        " / ".join(f"{r[p] - bare[p]:+.3f}" for p in ("p50_ms", "p99_ms", "p999_ms")) + " ms"
    t.append(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['p999_ms']:.3f} | {r['errors']} | {added} |")
cmds = []
for op in ops:
    x = by.get(f"couponbridge-{op}", {}).get("redis_by_command")
    if x:
        cmds.append(f"{op}: " + ", ".join(f"{k.upper()} {v['calls_per_op']:g}× at {v['usec_per_call']:.2f} µs" for k, v in sorted(x.items())
                                       if v["calls_per_op"] >= 0.001))  # not the sweeper's odd call
if cmds:
    t += ["", "Redis commands per operation and their execution time per call (INFO commandstats): " + "; ".join(cmds) + "."]
mem = [f"couponbridge start-up: {memory['startup_ms']} ms; resident memory {memory['rss_before_kib'] / 1024:.1f} MiB idle"]
for n in (1000, 10000):
    if f"rss_with_{n}_idle_kib" in memory:
        mem.append(f"{memory[f'rss_with_{n}_idle_kib'] / 1024:.1f} MiB with {n:,} idle keep-alive connections "
                   f"({memory[f'per_connection_kib_{n}']} KiB each)")
if "error" in memory:
    mem.append(f"opening the connections failed: {memory['error']}")
if "burst_per_connection_kib_1000" in memory:
    mem.append(f"1,000 opened in one burst: {memory['burst_per_connection_kib_1000']} KiB each (the peak, kept by the allocator)")
t += ["", "; ".join(mem) + f". Voucherify over {'h2c' if http2 == 'always' else 'HTTP/1.1'} (http2 = \"{http2}\")."]
# The goals, each with its figure from this run.
goals = []
def goal(text, value, ok):
    goals.append((text, value, "met" if ok else "missed"))
v = summary.get("validate", {})
if "couponbridge_vs_nginx_cpu" in v:
    goal("couponbridge CPU per locking validation ≤ nginx CPU per forwarded request",
         f"{v['couponbridge_cpu_us']:.1f} vs {v['nginx_cpu_us']:.1f} µs ({v['couponbridge_vs_nginx_cpu']:.2f}×)", v["couponbridge_vs_nginx_cpu"] <= 1.0)
    goal("couponbridge + Redis ≤ 1.5× nginx", f"{v['couponbridge_and_redis_vs_nginx_cpu']:.2f}×", v["couponbridge_and_redis_vs_nginx_cpu"] <= 1.5)
for op in ops:
    q = summary.get(op, {})
    for tag in ("unpinned", "pinned"):
        k = f"throughput_vs_nginx_{tag}"
        if q.get(k) is not None:
            goal(f"{op} throughput couponbridge/nginx ≥ 1.0 ({tag})", f"{q[k]:.2f}", q[k] >= 1.0)
    k = "open_loop_p99_added_ms"
    if k in q:
        goal(f"{op}: p99 added over bare ≤ 1 ms at {rate:,}/s", f"{q[k]:+.3f} ms", q[k] <= 1.0)
d = by.get("couponbridge-details", {})
if "voucherify_calls_per_op" in d:
    goal("lock details on a cache hit: 0 Voucherify calls", f"{d['voucherify_calls_per_op']:.3f} per read", d["voucherify_calls_per_op"] == 0)
c = by.get("couponbridge-validate", {})
if "voucherify_calls_per_op" in c:
    goal("locking validation: 1 Voucherify call", f"{c['voucherify_calls_per_op']:.3f}", abs(c["voucherify_calls_per_op"] - 1) < 0.01)
for n in (1000, 10000):
    k = f"per_connection_kib_{n}"
    if k in memory:
        goal(f"≤ 8 KiB RSS per idle keep-alive connection ({n:,})", f"{memory[k]} KiB", memory[k] <= 8)
goal("start-up under 10 ms", f"{memory['startup_ms']} ms", float(memory["startup_ms"]) < 10)
t += ["", "| goal | this run | |", "|---|---:|---|"] + [f"| {g} | {val} | {ok} |" for g, val, ok in goals]
open(f"{out}/table.md", "w").write("\n".join(t) + "\n")
report = json.load(open(f"{out}/results.json"))
report["goals"] = [dict(goal=g, value=val, result=ok) for g, val, ok in goals]
json.dump(report, open(f"{out}/results.json", "w"), indent=2)
print("\n".join(t))
for r in rows:
    with open(f"{out}/spectrum-{r['name']}.dat", "w") as f:
        for p, ms in r["spectrum"]:
            f.write(f"{1 / (1 - p / 100)} {ms} {p}\n")
