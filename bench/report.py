"""Turns the parts `make bench` measured (bench/out/*.json) into bench/results.json, bench/REPORT.md
and bench/chart.png. Run by scripts/bench.sh with the project's .venv (matplotlib pinned there).

    python bench/report.py [--out-dir bench/out] [--goals-only]

--goals-only prints the goals that are not met (one per line) and writes nothing: the script uses
it to decide whether to take a profile.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")

SINGLE_WRITES = ["link", "update", "delink", "benefits"]
SINGLE_REQUESTS = ["link", "link_by_id", "update", "delink", "benefits", "customer_partner_programs", "activity_history"]


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip()
    except Exception:  # a missing tool only leaves a blank in the machine description
        return ""


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    mem_gib = 0.0
    try:
        with open("/proc/meminfo") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
            mem_gib = kb / 1024 / 1024
    except (OSError, StopIteration):
        pass
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            os_name = next((line.split("=", 1)[1].strip().strip('"') for line in f if line.startswith("PRETTY_NAME")), "")
    except OSError:
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    ddb = [d for d in os.listdir(os.path.join(ROOT, ".local/dynamodb-local/package/lib")) if d.startswith("dynamodb_local")] if os.path.isdir(os.path.join(ROOT, ".local/dynamodb-local/package/lib")) else []
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "os": os_name,
        "kernel": platform.release(),
        "rustc": run(["rustc", "-V"]),
        "java": java[0] if java else "",
        "python": platform.python_version(),
        "dynamodb_local": ddb[0] if ddb else "",
    }


def git(meta):
    """The commit measured (scripts/bench.sh records it when the run starts), else HEAD now."""
    commit = meta.get("commit") or run(["git", "rev-parse", "HEAD"])
    if "dirty" in meta:
        dirty = meta["dirty"]
    else:
        dirty = bool(run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/REPORT.md", ":!bench/results.json", ":!bench/chart.png"]))
    subject = run(["git", "log", "-1", "--format=%s", commit])
    return {"commit": commit, "dirty": dirty, "subject": subject, "branch": run(["git", "rev-parse", "--abbrev-ref", "HEAD"])}


# ---- goals ---------------------------------------------------------------------------------------


def op(results, name, concurrency=1):
    for o in results.get("operations", []):
        if o["op"] == name and o["concurrency"] == concurrency:
            return o
    return None


def fmt(x, digits=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def goal(name, target, measured, met):
    return {"goal": name, "target": target, "measured": measured, "met": met}


def goals(r):
    out = []
    ops = r.get("rust") or {}

    def trips(name, key="sequential_p50"):
        o = op(ops, name)
        return o["round_trips"][key] if o else None

    # Round trips (sequential, without the local server's client lookup).
    writes = {n: trips(n) for n in SINGLE_WRITES}
    if all(v is not None for v in writes.values()):
        worst = max(writes.values())
        out.append(goal("Round trips: single-item write, customer by mobile/email/externalId", "≤ 3",
                        ", ".join(f"{n} {v:.0f}" for n, v in writes.items()), worst <= 3))
    by_id = trips("link_by_id")
    if by_id is not None:
        out.append(goal("Round trips: single-item write, customer by id", "≤ 2", f"link by id {by_id:.0f}", by_id <= 2))
    idem, plain = trips("link_idempotent"), trips("link")
    if idem is not None and plain is not None:
        out.append(goal("Round trips added by an Idempotency-Key (first call)", "≤ +1", f"+{idem - plain:.0f} ({plain:.0f} → {idem:.0f})", idem - plain <= 1))
    cpp = trips("customer_partner_programs")
    if cpp is not None:
        out.append(goal("Round trips: customerPartnerPrograms", "≤ 2", f"{cpp:.0f}", cpp <= 2))
    hist, page_rounds = trips("activity_history"), trips("activity_history", "history_page_rounds_p50")
    h = op(ops, "activity_history")
    if hist is not None and page_rounds is not None and h:
        pages = h["round_trips"]["by_kind"].get("Query HIST", 0)
        counts = h["round_trips"]["by_kind"].get("Query HIST (count)", 0)
        out.append(goal("Round trips: activity history (first page)", "≤ 2 + one Query per program page, in turn",
                        f"{hist:.0f} = 2 + {page_rounds:.0f} round of {pages:.0f} page Queries in parallel "
                        f"({counts:.0f} count Queries for `total` run beside them)", hist <= 2 + page_rounds))

    # Warm latency against the peer.
    lam = ops.get("lambda") or {}
    for cmp in lam.get("warm", []):
        o, p = cmp["ours"]["latency_ms"], cmp["peer"]["latency_ms"]
        r50, r99 = p["p50"] / o["p50"], p["p99"] / o["p99"]
        out.append(goal(f"Warm latency vs peer: {cmp['operation']}", "≥ 2× at p50 and p99",
                        f"p50 {o['p50']:.2f} vs {p['p50']:.2f} ms (×{r50:.2f}); p99 {o['p99']:.2f} vs {p['p99']:.2f} ms (×{r99:.2f})",
                        r50 >= 2 and r99 >= 2))

    # Time outside DynamoDB.
    other = [(n, op(ops, n)["other_ms"]["p50"]) for n in SINGLE_REQUESTS if op(ops, n)]
    if other:
        worst = max(other, key=lambda x: x[1])
        out.append(goal("Non-DynamoDB time per single-item request, p50 (release)", "≤ 0.3 ms",
                        f"max {worst[1]:.3f} ms ({worst[0]}); " + ", ".join(f"{n} {v:.3f}" for n, v in other if n != worst[0]),
                        worst[1] <= 0.3))

    # Cold start and memory.
    cold = lam.get("cold_starts", [])
    if cold:
        worst = max(cold, key=lambda c: c["init_ms"]["p50"])
        out.append(goal("Init p50, every function", "≤ 8 ms", f"max {worst['init_ms']['p50']:.1f} ms ({worst['name']})", worst["init_ms"]["p50"] <= 8))
        ours = next((c for c in cold if c["name"] == "link-customer"), None)
        peer = next((c for c in lam.get("peer_cold_starts", []) if c["name"].endswith("link_customer")), None)
        if ours and peer:
            ratio = peer["init_ms"]["p50"] / ours["init_ms"]["p50"]
            out.append(goal("Init vs peer (link)", "≥ 25× faster", f"{ours['init_ms']['p50']:.1f} vs {peer['init_ms']['p50']:.0f} ms (×{ratio:.1f})", ratio >= 25))
        worst = max(cold, key=lambda c: c["peak_rss_mb"]["max"])
        out.append(goal("Peak RSS after the first response, every function", "≤ 10 MB", f"max {worst['peak_rss_mb']['max']:.1f} MB ({worst['name']})", worst["peak_rss_mb"]["max"] <= 10))

    b1, b50 = op(ops, "batch_1"), op(ops, "batch_50")
    if b1 and b50:
        ratio = b50["latency_ms"]["p50"] / b1["latency_ms"]["p50"]
        out.append(goal("Batch of 50 customers vs batch of 1 (p50 latency)", "≤ 3×", f"{b50['latency_ms']['p50']:.1f} vs {b1['latency_ms']['p50']:.2f} ms (×{ratio:.1f})", ratio <= 3))

    sizes = ((r.get("build") or {}).get("arm64") or {}).get("bootstraps", {})
    if sizes:
        worst = max(sizes.items(), key=lambda kv: kv[1]["bytes"])
        out.append(goal("Every arm64 bootstrap", "≤ 8 MB", f"max {worst[1]['bytes'] / 1e6:.2f} MB ({worst[0]})", worst[1]["bytes"] <= 8_000_000))
    return out


# ---- profile -------------------------------------------------------------------------------------

ANNOTATE_LINE = None


def annotate(path, inclusive):
    """Per-function instruction counts of a callgrind file (callgrind_annotate, demangled)."""
    import re

    global ANNOTATE_LINE
    if ANNOTATE_LINE is None:
        ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.+?)\s*$")
    cmd = ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100", path]
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout
    total, funcs, in_table = 0, {}, False
    for line in text.splitlines():
        m = ANNOTATE_LINE.match(line)
        if not m:
            continue
        n, name = int(m.group(1).replace(",", "")), m.group(2)
        if name.startswith("PROGRAM TOTALS"):
            total = n
            in_table = True
            continue
        if in_table and ":" in name:
            name = name.split(" [", 1)[0]
            fn = function_part(name)
            if not fn.startswith("0x"):
                funcs[fn] = funcs.get(fn, 0) + n
    return total, funcs


def function_part(entry):
    """`file:function` → function, where the function may hold `::` (Rust paths)."""
    for i, ch in enumerate(entry):
        if ch == ":" and entry[i + 1:i + 2] != ":" and (i == 0 or entry[i - 1] != ":"):
            return entry[i + 1:]
    return entry


def crate_of(fn):
    f = fn.lstrip("<&*( ")
    for prefix in ("dyn ", "impl ", "mut "):
        if f.startswith(prefix):
            f = f[len(prefix):]
    head = f.split("::", 1)[0].split("<", 1)[0].split(" ", 1)[0]
    if head in ("core", "alloc", "std"):
        return "Rust std (core/alloc/std)"
    if head.startswith(("malloc", "free", "realloc", "calloc", "_int_", "cfree")) or head in ("__libc_malloc", "__libc_free"):
        return "allocator (libc malloc/free)"
    if head.startswith(("mem", "__mem", "str", "__str")):
        return "libc mem/str"
    if head.startswith("_dl_") or head.startswith("dl_"):
        return "dynamic loader"
    if head.startswith(("aws_", "aws-")):
        return "AWS SDK (aws_*)"
    return head or fn


def profile_summary(prof):
    runs = {r["label"]: r for r in prof.get("runs", [])}
    if "init" not in runs or "warm" not in runs or not os.path.exists(runs["init"]["file"]) or not os.path.exists(runs["warm"]["file"]):
        return None
    n = prof.get("warm_invocations", 1)
    init_total, init_incl = annotate(runs["init"]["file"], True)
    _, init_self = annotate(runs["init"]["file"], False)
    warm_total, warm_incl = annotate(runs["warm"]["file"], True)
    _, warm_self = annotate(runs["warm"]["file"], False)
    per_request_total = (warm_total - init_total) / n
    per_request_incl = {f: (warm_incl.get(f, 0) - init_incl.get(f, 0)) / n for f in warm_incl}
    per_request_self = {f: (warm_self.get(f, 0) - init_self.get(f, 0)) / n for f in warm_self}

    def by_crate(selfs, total):
        groups = {}
        for f, v in selfs.items():
            groups[crate_of(f)] = groups.get(crate_of(f), 0) + v
        return [{"crate": k, "share": 100 * v / total} for k, v in sorted(groups.items(), key=lambda kv: -kv[1])[:12] if total > 0]

    def generic(f):
        # Frames every path goes through (entry points, runtime, future plumbing): they say nothing.
        return (f in ("main", "(below main)") or f.startswith(("__libc_start_main", "std::sys::backtrace", "std::rt::", "core::ops::function::FnOnce"))
                or f.endswith("::main") or "Instrumented<T> as core::future" in f or f.startswith("<std::sys::sync::once") or f.startswith("std::sync::once"))

    def top(incl, selfs, total, k=20):
        if total <= 0:
            return []
        rows = [(f, v) for f, v in incl.items() if not generic(f) and 100 * v / total < 99.5]
        rows = sorted(rows, key=lambda kv: -kv[1])[:k]
        return [{"function": f[:160], "inclusive": 100 * v / total, "self": 100 * selfs.get(f, 0) / total} for f, v in rows]

    def top_self(selfs, total, k=15):
        if total <= 0:
            return []
        rows = sorted(selfs.items(), key=lambda kv: -kv[1])[:k]
        return [{"function": f[:160], "self": 100 * v / total} for f, v in rows]

    return {
        "init_instructions": init_total,
        "per_request_instructions": per_request_total,
        "init_by_crate": by_crate(init_self, init_total),
        "request_by_crate": by_crate(per_request_self, per_request_total),
        "init_top": top(init_incl, init_self, init_total),
        "request_top": top(per_request_incl, per_request_self, per_request_total),
        "init_top_self": top_self(init_self, init_total),
        "request_top_self": top_self(per_request_self, per_request_total),
    }


# ---- chart ---------------------------------------------------------------------------------------


def chart(r, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = r.get("rust") or {}
    lam = ops.get("lambda") or {}
    fig, axes = plt.subplots(2, 2, figsize=(15, 10.5))
    fig.suptitle(f"Partner Programs benchmark — {r['git']['commit'][:10]} — {r['generated_at'][:16]}Z", fontsize=13)

    # (a) latency split per operation at concurrency 1.
    ax = axes[0][0]
    single = [o for o in ops.get("operations", []) if o["concurrency"] == 1 and o["op"] != "batch_50"]
    names = [o["op"] for o in single]
    ddb = [o["dynamodb_ms"]["p50"] for o in single]
    other = [o["other_ms"]["p50"] for o in single]
    rest = [max(o["latency_ms"]["p50"] - o["handler_ms"]["p50"], 0) for o in single]
    y = range(len(names))
    ax.barh(y, ddb, color="#4c72b0", label="waiting on DynamoDB (p50)")
    ax.barh(y, other, left=ddb, color="#dd8452", label="everything else in the handler (p50)")
    ax.barh(y, rest, left=[a + b for a, b in zip(ddb, other)], color="#cccccc", label="auth lookup + loopback HTTP")
    for i, o in enumerate(single):
        ax.text(o["latency_ms"]["p50"] + 0.05, i, f"{o['round_trips']['sequential_p50']:.0f} RT", va="center", fontsize=8)
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlabel("ms (concurrency 1, release build, DynamoDB Local)")
    ax.set_title("Per operation through the local server: where the time goes")
    ax.set_xlim(0, max([o["latency_ms"]["p50"] for o in single] + [1]) * 1.15)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)

    # (b) warm latency against the peer.
    ax = axes[0][1]
    warm = lam.get("warm", [])
    labels, ours50, peer50, ours99, peer99 = [], [], [], [], []
    for c in warm:
        labels.append(c["operation"])
        ours50.append(c["ours"]["latency_ms"]["p50"])
        peer50.append(c["peer"]["latency_ms"]["p50"])
        ours99.append(c["ours"]["latency_ms"]["p99"])
        peer99.append(c["peer"]["latency_ms"]["p99"])
    x = range(len(labels))
    w = 0.2
    ax.bar([i - 1.5 * w for i in x], ours50, w, label="ours p50", color="#4c72b0")
    ax.bar([i - 0.5 * w for i in x], peer50, w, label="peer (Python + boto3) p50", color="#c44e52")
    ax.bar([i + 0.5 * w for i in x], ours99, w, label="ours p99", color="#8fb0e0")
    ax.bar([i + 1.5 * w for i in x], peer99, w, label="peer p99", color="#e8a0a2")
    for i in x:
        ax.text(i - w, peer50[i], f"peer/ours ×{peer50[i] / ours50[i]:.2f}", ha="center", va="bottom", fontsize=8)
        ax.text(i + w, peer99[i], f"×{peer99[i] / ours99[i]:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("ms per warm invocation (Runtime API emulator)")
    ax.set_title("Warm invocations, same emulator, same DynamoDB Local")
    ax.legend(fontsize=8)

    # (c) cold starts.
    ax = axes[1][0]
    cold = lam.get("cold_starts", []) + lam.get("peer_cold_starts", [])
    names = [c["name"] for c in cold]
    init = [c["init_ms"]["p50"] for c in cold]
    first = [c["first_response_ms"]["p50"] for c in cold]
    y = range(len(names))
    ax.barh([i - 0.2 for i in y], init, 0.4, label="start → first /next (p50)", color="#55a868")
    ax.barh([i + 0.2 for i in y], first, 0.4, label="start → first response (p50)", color="#8172b2")
    ax.axvline(8, color="black", linestyle="--", linewidth=1, label="goal: init ≤ 8 ms")
    ax.set_xscale("log")
    ax.set_yticks(list(y), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms, log scale (x86_64 release binaries)")
    ax.set_title("Cold start per function, and the peer")
    ax.legend(fontsize=8, loc="upper right")

    # (d) arm64 bootstraps.
    ax = axes[1][1]
    sizes = ((r.get("build") or {}).get("arm64") or {}).get("bootstraps", {})
    if sizes:
        names = sorted(sizes)
        y = range(len(names))
        ax.barh([i - 0.2 for i in y], [sizes[n]["bytes"] / 1e6 for n in names], 0.4, label="bootstrap", color="#64b5cd")
        ax.barh([i + 0.2 for i in y], [sizes[n]["zip_bytes"] / 1e6 for n in names], 0.4, label="zip", color="#ccb974")
        ax.axvline(8, color="black", linestyle="--", linewidth=1, label="goal: bootstrap ≤ 8 MB")
        ax.set_yticks(list(y), names, fontsize=8)
        ax.invert_yaxis()
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    else:
        ax.text(0.5, 0.5, "arm64 build skipped (BENCH_ARM64=0)", ha="center", va="center")
    ax.set_xlabel("MB (10^6 bytes), cargo lambda build --release --arm64")
    ax.set_title("arm64 Lambda packages")

    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---- report --------------------------------------------------------------------------------------


def table(header, rows, numeric=True, align=None):
    """A Markdown table: `align` per column ("l"/"r"), else the first column left and the others
    right-aligned (left too when `numeric` is False)."""
    if align is None:
        align = "l" + ("r" if numeric else "l") * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def dominates(r, missed):
    """One paragraph per missed goal, from the figures themselves."""
    ops = r.get("rust") or {}
    lam = ops.get("lambda") or {}
    out = []
    names = " ".join(x["goal"] for x in missed)
    if "Round trips" in names:
        seqs = []
        for n in ["link", "link_by_id", "link_idempotent", "update", "customer_partner_programs", "activity_history"]:
            o = op(ops, n)
            if o:
                seqs.append(f"{n}: {' → '.join(o['round_trips']['example'])}")
        out.append("- **Round trips**: the sequences of the median requests are "
                   + "; ".join(seqs) + ". A single-item write reads the identifier, then the customer with its "
                   "linkages in one Query, then commits; the idempotency claim runs beside the first read and the "
                   "completion follows the commit. The history counts each stream's records for `total` (one Query "
                   "per program and kind, in parallel) beside the page's Queries.")
    if "Warm latency" in names or "Non-DynamoDB" in names:
        parts = []
        for n in ["link", "customer_partner_programs"]:
            o = op(ops, n)
            if o and o["handler_ms"]["p50"] > 0:
                parts.append(f"{n} {100 * o['dynamodb_ms']['p50'] / o['handler_ms']['p50']:.0f}% "
                             f"({o['dynamodb_ms']['p50']:.2f} of {o['handler_ms']['p50']:.2f} ms, {o['round_trips']['sequential_p50']:.0f} round trips)")
        text = ("- **Warm latency**: a request is mostly waiting on DynamoDB — share of the handler's p50 time with a call on the wire: "
                + ", ".join(parts) + ". The peer makes the same calls, so the ratio can only grow by cutting round trips and the time between them.")
        # The best ratio this run allows: the peer's latency over our DynamoDB wait alone (our own time at zero).
        names_ops = {"link (1 customer by mobile)": "link", "customerPartnerPrograms": "customer_partner_programs"}
        bounds = []
        for cmp in lam.get("warm", []):
            o = op(ops, names_ops.get(cmp["operation"], ""))
            if o and o["dynamodb_ms"]["p50"] > 0:
                bounds.append(f"{cmp['operation']} ×{cmp['peer']['latency_ms']['p50'] / o['dynamodb_ms']['p50']:.2f} "
                              f"({cmp['peer']['latency_ms']['p50']:.2f} / {o['dynamodb_ms']['p50']:.2f} ms)")
        if bounds:
            text += (" Even with no time of our own, p50 could be at best the peer's latency over our DynamoDB wait "
                     "(the same calls, same DynamoDB Local): " + ", ".join(bounds) + ".")
        out.append(text)
    cpu = [(c["operation"], c["ours"]["cpu_ms_per_invocation"]) for c in lam.get("warm", []) if c["ours"].get("cpu_ms_per_invocation")]
    if "Non-DynamoDB" in names and cpu:
        out.append("- **CPU against wall time**: the Lambda process's own CPU time per warm invocation (all threads, "
                   "`/proc/<pid>/task/*/schedstat`, the bootstrap under the Runtime API harness): "
                   + ", ".join(f"{n} {v:.3f} ms" for n, v in cpu)
                   + " (that includes the Runtime API client and the event's JSON, which the local server's *other* does not). "
                   + ("It is above the local server's *other* p50 (" + ", ".join(f"{n} {op(ops, n)['other_ms']['p50']:.3f} ms" for n in ("link", "customer_partner_programs") if op(ops, n))
                      + "): the time outside DynamoDB is the process's own work, not waiting for a core."
                      if all(op(ops, n) and v >= op(ops, n)["other_ms"]["p50"] for (_, v), n in zip(cpu, ("link", "customer_partner_programs")))
                      else "Where it is below the local server's *other* p50, the difference is waiting to run (for one of the two "
                           "cores, which DynamoDB Local's JVM and the bench share), not work."))
    sdk = (ops.get("dynamodb_floor") or {}).get("sdk_link_calls")
    if "Non-DynamoDB" in names and sdk and op(ops, "link"):
        out.append(f"- **The SDK's own share**: a link's calls ({' → '.join(sdk['calls'])}) made one after another with no "
                   f"service code around them, on the same instrumented client in the same run, spend {sdk['other_ms']['p50']:.3f} ms p50 "
                   f"outside DynamoDB (p99 {sdk['other_ms']['p99']:.3f}; {sdk['dynamodb_ms']['p50']:.2f} ms on the wire): serialising, "
                   f"signing, the orchestrator's interceptors and retry state, hyper, parsing the answers. That is "
                   f"{sdk['other_ms']['p50'] / 0.3:.1f}× the 0.3 ms goal before any code of ours; our link's *other* is "
                   f"{op(ops, 'link')['other_ms']['p50']:.3f} ms, {op(ops, 'link')['other_ms']['p50'] - sdk['other_ms']['p50']:.3f} ms above it "
                   "for decoding, validating, planning, the items' serialisation and the JSON log lines.")
    prof = (r.get("profile") or {}).get("callgrind")
    if "Non-DynamoDB" in names and prof:
        top = ", ".join(f"{c['crate']} {c['share']:.0f}%" for c in prof["request_by_crate"][:6])
        out.append(f"- **Time outside DynamoDB**: a warm link request executes {prof['per_request_instructions'] / 1e6:.2f} M instructions; "
                   f"by crate: {top} (callgrind, below)."
                   + (" valgrind does not report the CPU's SHA extensions, so under callgrind sha2 runs its software "
                      "SHA-256 (SigV4 hashes every request's body); outside valgrind, on a CPU with them (this one has SHA-NI; Graviton has the Armv8 SHA-2 instructions), it takes the hardware path."
                      if any(c["crate"] == "sha2" for c in prof["request_by_crate"][:6]) else ""))
    if "Init" in names and prof:
        top = ", ".join(f"{c['crate']} {c['share']:.0f}%" for c in prof["init_by_crate"][:6])
        frames = ", ".join(f"`{t['function']}` {t['inclusive']:.0f}%" for t in [t for t in prof["init_top"] if t["inclusive"] < 90][:4])
        out.append(f"- **Init**: {prof['init_instructions'] / 1e6:.1f} M instructions up to the first response; self cost by crate: {top}; "
                   f"heaviest paths: {frames} (callgrind, below).")
    if "Peak RSS" in names:
        cold = lam.get("cold_starts", [])
        if cold:
            worst = max(cold, key=lambda c: c["peak_rss_mb"]["max"])
            anon, file_ = worst.get("rss_anon_mb", {}).get("p50"), worst.get("rss_file_mb", {}).get("p50")
            split = f" (resident then: {anon:.1f} MB anonymous, {file_:.1f} MB file-backed)" if anon is not None and file_ is not None else ""
            size = f"; the x86_64 binary is {worst['binary_bytes'] / 1e6:.1f} MB on disk" if worst.get("binary_bytes") else ""
            least = min(cold, key=lambda c: c["peak_rss_mb"]["max"])
            relro, relro_least = relro_mb(worst["name"]), relro_mb(least["name"])
            why = ("File-backed pages are the mapped binary and libc, so most of the peak follows the binary's size; "
                   "the heap and stacks are the smaller part.")
            if relro is not None and relro_least is not None:
                why += (f" Of the anonymous part, {relro:.2f} MB is the binary's `.data.rel.ro` ({least['name']}: {relro_least:.2f} MB, "
                        f"peak {least['peak_rss_mb']['max']:.1f} MB): pointers the loader relocates when a position-independent "
                        "executable starts, so every page of it is written and resident (vtables, string and slice tables; "
                        "the time zones are bundled as TZif bytes, which hold no pointers: docs/tooling.md#time-zones).")
            out.append(f"- **Peak RSS**: {worst['name']} peaks at {worst['peak_rss_mb']['max']:.1f} MB after its first response{split}{size}. {why}")
    if "bootstrap" in names:
        sizes = ((r.get("build") or {}).get("arm64") or {}).get("bootstraps", {})
        http = {n: v["bytes"] for n, v in sizes.items() if n not in ("authorizer", "tier-expiry-sweep")}
        if http:
            lo, hi = min(http.values()) / 1e6, max(http.values()) / 1e6
            span = f"{lo:.2f} MB each" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f} MB"
            out.append(f"- **Bootstrap size**: the {len(http)} HTTP functions are {span}, "
                       "each linking only the operation its `main` passes to `run_http`. The largest are the ones that "
                       "change linkages (the linkage write path with its retries, outbox, reminders and activity history "
                       "code); the configuration and read-only ones are the smallest. Most of each is what every function "
                       "shares: the AWS SDK with its SigV4 signing, rustls, hyper, tokio, serde_json, the bundled time zone "
                       f"data (~0.2 MB); the authorizer ({sizes.get('authorizer', {}).get('bytes', 0) / 1e6:.2f} MB) and the sweep "
                       f"({sizes.get('tier-expiry-sweep', {}).get('bytes', 0) / 1e6:.2f} MB) have no HTTP envelope.")
    if "Batch" in names:
        b50 = op(ops, "batch_50")
        if b50:
            out.append(f"- **Batch**: a 50-customer link makes {b50['round_trips']['calls_mean']:.0f} DynamoDB calls "
                       f"({b50['round_trips']['calls_mean'] / 50:.0f} per customer), all 50 customers at once (BATCH_CONCURRENCY, default 50), "
                       f"and spends {100 * b50['dynamodb_ms']['p50'] / max(b50['handler_ms']['p50'], 1e-9):.0f}% of its time waiting on them; "
                       "DynamoDB Local also serves one transaction at a time, which a region does not.")
            floor, b1 = ops.get("dynamodb_floor"), op(ops, "batch_1")
            if floor and b1:
                commits, one = floor["many_ms"]["p50"], b1["latency_ms"]["p50"]
                gap = b50["latency_ms"]["p50"] - commits
                out.append(f"- **Batch floor on this emulator** (same run, no service code): {floor['many']} TransactWriteItems of "
                           f"{floor['puts_per_transaction']} Puts on keys of their own, started together, take {commits:.1f} ms p50 "
                           f"(one alone: {floor['one_ms']['p50']:.2f} ms, ×{floor['ratio_p50']:.1f}). That is ×{commits / one:.1f} "
                           f"our whole batch of 1 ({one:.2f} ms) before any read, so no batch that commits each of 50 customers in a "
                           f"transaction of its own can come within 3× of it here; ours takes {b50['latency_ms']['p50']:.1f} ms, "
                           + (f"{gap:.1f} ms above the commits alone for its 100 reads and its own work." if gap >= 0 else
                              f"{-gap:.1f} ms under the commits alone (measured apart, so within their spread): its 100 reads "
                              f"and its own work are lost in the emulator's queue of commits.")
                           + (f" Sharing transactions would not bring it near: the same {floor['many'] * floor['puts_per_transaction']} Puts "
                              f"as {floor['grouped']} transactions, started together, take {floor['grouped_ms']['p50']:.1f} ms p50, "
                              f"×{floor['grouped_ms']['p50'] / one:.1f} the batch of 1 (DynamoDB Local writes item by item "
                              "whatever the grouping), and it would tie customers' fates together (one failed condition "
                              "cancels all), so it is not done."
                              if floor.get("grouped_ms") else ""))
    return out


def report(r, gs):
    m, g = r["machine"], r["git"]
    ops = r.get("rust") or {}
    lam = ops.get("lambda") or {}
    s = ops.get("settings", {})
    L = []
    L.append("# Benchmark report")
    L.append("")
    L.append(f"Measured by `make bench` from {r['generated_at'][:19].replace('T', ' ')} UTC at commit `{g['commit'][:12]}`"
             f"{' with uncommitted changes' if g['dirty'] else ''} ({g['branch']}: {g['subject']}); the run took {r.get('run_seconds', 0) / 60:.1f} min.")
    L.append("")
    L.append(f"**Machine**: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']} (kernel {m['kernel']}); "
             f"{m['rustc']}; DynamoDB Local {m['dynamodb_local'].replace('dynamodb_local_', '')} in memory on {m['java']}; Python {m['python']}. "
             f"Load average at start {r.get('loadavg_start', '?')}, at end {r.get('loadavg_end', '?')} (other work shares these cores, so "
             "absolute figures move between runs; the ratios measured side by side in one run are the stable ones).")
    L.append("")
    L.append("![chart](chart.png)")
    L.append("")
    L.append("## Goals")
    L.append("")
    L.append(table(["Goal", "Target", "Measured", "Met"], [[x["goal"], x["target"], x["measured"], "**met**" if x["met"] else "**not met**"] for x in gs], numeric=False))
    L.append("")
    missed = [x for x in gs if not x["met"]]
    L.append(f"{len(gs) - len(missed)} of {len(gs)} goals met.")
    L.append("")

    L.append("## Operations through the local server")
    L.append("")
    L.append(f"Release build, the local server in process (the handlers every Lambda runs) on an SDK client with a timing interceptor, "
             f"against DynamoDB Local; {s.get('requests_c1')} measured requests at concurrency 1 and {s.get('requests_c16')} at 16 per operation, "
             "after warm-up, every request on its own customer where it writes once. *DynamoDB* is the wall time with at least one call on the wire; "
             "*other* is the rest of the handler (our code, SDK serialisation and signing, JSON logs at INFO); the local server's client lookup "
             "(the authorizer's job in AWS) is left out of both and of the round trips. *Round trips* are sequential: calls that overlap count once. "
             "The org's catalog is cached, as in a warm container.")
    L.append("")
    rows = []
    for o in ops.get("operations", []):
        rows.append([
            f"{o['op']} (c{o['concurrency']})",
            fmt(o["latency_ms"]["p50"]), fmt(o["latency_ms"]["p99"]),
            fmt(o["dynamodb_ms"]["p50"]), fmt(o["other_ms"]["p50"], 3), fmt(o["other_ms"]["p99"], 3),
            f"{o['round_trips']['sequential_p50']:.0f}", f"{o['round_trips']['calls_mean']:.1f}",
            f"{o['requests_per_second']:.0f}", o["errors"],
        ])
    L.append(table(["operation", "p50 ms", "p99 ms", "DynamoDB p50", "other p50", "other p99", "round trips", "calls", "req/s", "errors"], rows))
    L.append("")
    L.append("DynamoDB calls of the median request (concurrency 1), in order:")
    L.append("")
    for o in ops.get("operations", []):
        if o["concurrency"] == 1 and o["op"] != "batch_50":
            L.append(f"- **{o['op']}** ({o['description']}): {' → '.join(o['round_trips']['example']) or '–'}")
    b50 = op(ops, "batch_50")
    if b50:
        kinds = ", ".join(f"{k} ×{v:.0f}" for k, v in sorted(b50["round_trips"]["by_kind"].items()))
        L.append(f"- **batch_50**: {b50['round_trips']['calls_mean']:.0f} calls ({kinds}) in {b50['round_trips']['sequential_p50']:.0f} sequential round trips")
    floor = ops.get("dynamodb_floor")
    if floor:
        L.append("")
        L.append(f"DynamoDB Local alone (`bench/src/floor.rs`, no service code): one TransactWriteItems of {floor['puts_per_transaction']} Puts "
                 f"p50 {floor['one_ms']['p50']:.2f} ms (p99 {floor['one_ms']['p99']:.2f}); {floor['many']} of them started together, until the last returns, "
                 f"p50 {floor['many_ms']['p50']:.1f} ms (p99 {floor['many_ms']['p99']:.1f}): ×{floor['ratio_p50']:.1f}"
                 + (f"; the same Puts as {floor['grouped']} transactions started together, p50 {floor['grouped_ms']['p50']:.1f} ms"
                    if floor.get("grouped_ms") else "")
                 + "."
                 + (f" A link's calls ({' → '.join(floor['sdk_link_calls']['calls'])}) with no service code: "
                    f"{floor['sdk_link_calls']['total_ms']['p50']:.2f} ms p50, of which {floor['sdk_link_calls']['other_ms']['p50']:.3f} ms "
                    "outside DynamoDB (the SDK's own work)." if floor.get("sdk_link_calls") else ""))
    L.append("")

    if lam:
        L.append("## Lambda cold starts")
        L.append("")
        L.append(f"Each x86_64 release binary of template.yaml started {s.get('starts')} times under the Runtime API emulator of `tests/runtime` "
                 "(TCP_NODELAY on), with the Lambda environment and its event already queued: *init* is process start → first `/invocation/next`, "
                 "*first response* is process start → its response to that event (a real write for the write functions), *peak RSS* is `VmHWM` "
                 "right after the first response (largest of the starts), split at that moment into anonymous memory (heap, stacks) and "
                 "file-backed pages (the binary and shared libraries).")
        L.append("")
        rows = []
        for c in lam.get("cold_starts", []) + lam.get("peer_cold_starts", []):
            anon, file_ = c.get("rss_anon_mb", {}).get("p50"), c.get("rss_file_mb", {}).get("p50")
            rows.append([c["name"], fmt(c["init_ms"]["p50"], 1), fmt(c["init_ms"]["p90"], 1), fmt(c["first_response_ms"]["p50"], 1),
                         fmt(c["first_response_ms"]["p90"], 1), fmt(c["peak_rss_mb"]["max"], 1), fmt(anon, 1), fmt(file_, 1)])
        L.append(table(["function", "init p50 ms", "init p90 ms", "first response p50 ms", "first response p90 ms", "peak RSS MB",
                        "anon MB", "file MB"], rows))
        L.append("")
        L.append("## Peer baseline")
        L.append("")
        L.append("`bench/peer/handler.py` is a **peer baseline, not part of the service**: the same link and customerPartnerPrograms operations written "
                 "the way most teams would, Python 3 + boto3, run with `python -m awslambdaric` under the same emulator against the same table, org, "
                 "programs and customers, making the same DynamoDB calls our code makes today, one after another, and writing items with the same keys. "
                 f"Warm: {s.get('warm')} invocations per side after 10 warm-ups, alternating in rounds of 50, every link on its own customer.")
        L.append("")
        peer_cold = {c["name"]: c for c in lam.get("peer_cold_starts", [])}
        cold = {c["name"]: c for c in lam.get("cold_starts", [])}
        rows = []
        pairs = {"link (1 customer by mobile)": ("link-customer", "peer:handler.link_customer"),
                 "customerPartnerPrograms": ("customer-partner-programs", "peer:handler.customer_partner_programs")}
        for cmp in lam.get("warm", []):
            o, p = cmp["ours"], cmp["peer"]
            ours_name, peer_name = pairs.get(cmp["operation"], (None, None))
            oc, pc = cold.get(ours_name), peer_cold.get(peer_name)
            if oc and pc:
                rows.append([cmp["operation"], "init p50 ms", fmt(oc["init_ms"]["p50"], 1), fmt(pc["init_ms"]["p50"], 1), f"×{pc['init_ms']['p50'] / oc['init_ms']['p50']:.1f}"])
                rows.append(["", "first response p50 ms", fmt(oc["first_response_ms"]["p50"], 1), fmt(pc["first_response_ms"]["p50"], 1),
                             f"×{pc['first_response_ms']['p50'] / oc['first_response_ms']['p50']:.1f}"])
            rows.append(["" if oc else cmp["operation"], "warm p50 ms", fmt(o["latency_ms"]["p50"]), fmt(p["latency_ms"]["p50"]), f"×{p['latency_ms']['p50'] / o['latency_ms']['p50']:.2f}"])
            rows.append(["", "warm p99 ms", fmt(o["latency_ms"]["p99"]), fmt(p["latency_ms"]["p99"]), f"×{p['latency_ms']['p99'] / o['latency_ms']['p99']:.2f}"])
            if o.get("cpu_ms_per_invocation") and p.get("cpu_ms_per_invocation"):
                rows.append(["", "CPU per warm invocation ms", fmt(o["cpu_ms_per_invocation"], 3), fmt(p["cpu_ms_per_invocation"], 3),
                             f"×{p['cpu_ms_per_invocation'] / o['cpu_ms_per_invocation']:.1f}"])
            if o.get("peak_rss_mb") and p.get("peak_rss_mb"):
                rows.append(["", "peak RSS after the run MB", fmt(o["peak_rss_mb"], 1), fmt(p["peak_rss_mb"], 1), f"×{p['peak_rss_mb'] / o['peak_rss_mb']:.1f}"])
        L.append(table(["operation", "figure", "ours", "peer", "peer / ours"], rows))
        L.append("")

    sweep = r.get("sweep")
    if sweep:
        L.append("## Tier-expiry sweep")
        L.append("")
        L.append(f"`ppsweep bench` (release) against DynamoDB Local: {sweep.get('due')} linkages due per run, {sweep.get('reps')} run(s) per table size, "
                 f"{sweep.get('due_shards')} due shards.")
        L.append("")
        rows = [[f"{row['linkages']:,}", f"{row['items_read_per_change']:.3f}", f"{row['median_seconds']:.2f}", f"{row['changes_per_second']:.0f}",
                 row["changed"], f"{row['idle_queries']} queries, {row['idle_items_read']} items"] for row in sweep.get("rows", [])]
        L.append(table(["linkages in table", "items read / change", "sweep time (median) s", "changes / s", "changed", "idle run"], rows))
        L.append("")

    build = r.get("build") or {}
    arm = build.get("arm64") or {}
    if arm.get("bootstraps"):
        L.append("## Lambda packages and build time")
        L.append("")
        def took(b):
            secs = b.get("seconds", 0)
            if b.get("cold"):
                state = "from a cold target directory, dependencies included"
            elif secs < 10:
                state = "nothing to rebuild"
            else:
                state = "dependencies already built"
            return f"{secs / 60:.1f} min ({state})" if secs >= 60 else f"{secs:.0f} s ({state})"

        L.append(f"Release build time in this run: `cargo lambda build --release --arm64` of the {len(arm['bootstraps'])} functions (what `sam build` runs) "
                 f"took {took(arm)}; the x86_64 release build of the same functions for the cold-start runs took {took(build.get('x86_64', {}))}. "
                 "Each function is a fat-LTO, one-codegen-unit binary, so a change in `shared` relinks all of them for each target. "
                 "Zip: the bootstrap alone, deflated, as a Lambda package.")
        L.append("")
        rows = [[n, f"{v['bytes'] / 1e6:.2f}", f"{v['zip_bytes'] / 1e6:.2f}"] for n, v in sorted(arm["bootstraps"].items())]
        L.append(table(["function", "arm64 bootstrap MB", "zip MB"], rows))
        L.append("")

    if missed:
        L.append("## What dominates the missed goals")
        L.append("")
        L.extend(dominates(r, missed))
        L.append("")
    prof = r.get("profile") or {}
    cg = prof.get("callgrind")
    if cg and missed:
        L.append("## Profile of the slowest path: link-customer under callgrind")
        L.append("")
        L.append(f"{prof.get('tool')}; {prof.get('build')}. The same emulator and DynamoDB Local feed it link events: one run ends after the "
                 f"first invocation (*init*, with that first request), the other after {prof.get('warm_invocations')} more; their difference "
                 f"divided by {prof.get('warm_invocations')} is the *steady-state request*. Init: {cg['init_instructions'] / 1e6:.1f} M instructions; "
                 f"a warm request: {cg['per_request_instructions'] / 1e6:.2f} M instructions. Self cost by crate (fat LTO inlines across crates, "
                 "so this is where the instructions ended up, close to where they came from):")
        L.append("")
        rows = []
        init_rows, req_rows = cg["init_by_crate"], cg["request_by_crate"]
        for i in range(max(len(init_rows), len(req_rows))):
            a = init_rows[i] if i < len(init_rows) else None
            b = req_rows[i] if i < len(req_rows) else None
            rows.append([f"{a['crate']}" if a else "", f"{a['share']:.1f}" if a else "", f"{b['crate']}" if b else "", f"{b['share']:.1f}" if b else ""])
        L.append(table(["init: crate", "% of init", "warm request: crate", "% of request"], rows, align="lrlr"))
        L.append("")
        def code(f):
            return f"`{f.replace('|', '/')}`"

        for what, key in (("a warm request", "request"), ("init", "init")):
            L.append(f"Where {what} spends its instructions (inclusive = with what it calls; entry points and future plumbing left out):")
            L.append("")
            L.append(table(["inclusive %", "self %", "function"], [[f"{t['inclusive']:.1f}", f"{t['self']:.1f}", code(t["function"])] for t in cg[f"{key}_top"]], align="rrl"))
            L.append("")
            L.append(f"The functions of {what} with the most instructions of their own:")
            L.append("")
            L.append(table(["self %", "function"], [[f"{t['self']:.1f}", code(t["function"])] for t in cg[f"{key}_top_self"]], align="rl"))
            L.append("")

    L.append("## Re-running")
    L.append("")
    ph = r.get("phases") or {}
    if ph:
        names = {"setup_and_x86_64_build": "set-up and x86_64 build", "arm64_build": "arm64 build", "measurements": "measurements",
                 "sweep": "sweep", "profile": "profile"}
        L.append("This run, in minutes: " + ", ".join(f"{names.get(k, k)} {v / 60:.1f}" for k, v in ph.items()) + ".")
        L.append("")
    L.append("`make bench` rebuilds what changed (after a change in `shared`, every function for both targets), then measures. Knobs: "
             "`BENCH_QUICK=1` (a few minutes: fewer requests, 5 starts, 10,000-linkage sweep only), `BENCH_REQUESTS`, `BENCH_STARTS`, `BENCH_WARM`, "
             "`BENCH_BATCH`, `BENCH_SWEEP_SIZES`, `BENCH_SWEEP_REPS`, `BENCH_ARM64=0` (skip the arm64 build), `BENCH_PROFILE=0` (no profile), "
             "`BENCH_COLD_BUILD=1` (time the arm64 build from scratch). "
             "Raw figures: `bench/results.json`.")
    L.append("")
    return "\n".join(L)


def finite(v):
    """NaN and infinities (an empty sample, a zero divisor) as null: results.json stays strict JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [finite(x) for x in v]
    return v


def relro_mb(binary):
    """Size of a release binary's `.data.rel.ro` section in MB (readelf), or None."""
    path = os.path.join(BENCH, "..", "target", "release", binary)
    try:
        out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    m = re.search(r"\.data\.rel\.ro\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", out)
    return int(m.group(1), 16) / 1e6 if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", default=os.path.join(BENCH, "out"))
    ap.add_argument("--goals-only", action="store_true")
    a = ap.parse_args()
    meta = load(os.path.join(a.out_dir, "run.json"), {})
    r = {
        "generated_at": meta.get("started_at") or datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "git": git(meta),
        "machine": machine(),
        "run_seconds": meta.get("seconds", 0),
        "loadavg_start": meta.get("loadavg_start"),
        "loadavg_end": meta.get("loadavg_end"),
        "phases": meta.get("phases"),
        "rust": load(os.path.join(a.out_dir, "rust.json")),
        "sweep": load(os.path.join(a.out_dir, "sweep.json")),
        "build": load(os.path.join(a.out_dir, "build.json")),
        "profile": load(os.path.join(a.out_dir, "profile.json")),
    }
    if r["profile"]:
        r["profile"]["callgrind"] = profile_summary(r["profile"])
        for run_ in r["profile"].get("runs", []):
            run_["file"] = os.path.relpath(run_["file"], ROOT)
    gs = goals(r)
    if a.goals_only:
        for x in gs:
            if not x["met"]:
                print(f"{x['goal']}: {x['measured']} (target {x['target']})")
        return
    r["goals"] = gs
    with open(os.path.join(BENCH, "results.json"), "w") as f:
        json.dump(finite(r), f, indent=2, allow_nan=False, default=str)
        f.write("\n")
    chart(r, os.path.join(BENCH, "chart.png"))
    with open(os.path.join(BENCH, "REPORT.md"), "w") as f:
        f.write(report(r, gs))
    print(f"wrote bench/results.json, bench/REPORT.md, bench/chart.png ({sum(x['met'] for x in gs)} of {len(gs)} goals met)")


if __name__ == "__main__":
    sys.exit(main())
