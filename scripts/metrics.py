#!/usr/bin/env python3
"""Summarise the CloudWatch embedded-metric (EMF) documents in a log file (`make metrics FILE=...`).

Reads every line that is a JSON object with an `_aws` block (other lines, JSON logs or not, are
skipped) and prints, per metric and dimension set, the number of documents, the number of values
and their sum, min, p50 and max, with the unit. Values may be numbers or arrays of numbers (EMF).
"""

import json
import sys
from collections import defaultdict


def documents(lines):
    for line in lines:
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("_aws"), dict):
            yield doc


def summarise(docs):
    """{(metric, dims): {"unit", "docs", "values"}} and the number of documents."""
    table = defaultdict(lambda: {"unit": "", "docs": 0, "values": []})
    count = 0
    for doc in docs:
        count += 1
        for directive in doc["_aws"].get("CloudWatchMetrics", []):
            sets = directive.get("Dimensions") or [[]]
            for metric in directive.get("Metrics", []):
                name = metric.get("Name")
                value = doc.get(name)
                values = value if isinstance(value, list) else [value]
                values = [float(v) for v in values if isinstance(v, (int, float))]
                for dims in sets:
                    key = (name, ", ".join(f"{d}={doc.get(d)}" for d in dims) or "(none)")
                    row = table[key]
                    row["unit"] = metric.get("Unit", "")
                    row["docs"] += 1
                    row["values"].extend(values)
    return table, count


def p50(values):
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else 0.0


def fmt(x):
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}"


def main(argv):
    if len(argv) != 2:
        print("usage: metrics.py LOGFILE  (or - for stdin)", file=sys.stderr)
        return 2
    stream = sys.stdin if argv[1] == "-" else open(argv[1], encoding="utf-8", errors="replace")
    with stream:
        table, count = summarise(documents(stream))
    print(f"{count} EMF documents")
    if not table:
        return 0
    header = ("metric", "dimensions", "unit", "docs", "values", "sum", "min", "p50", "max")
    rows = []
    for (name, dims), row in sorted(table.items()):
        v = row["values"] or [0.0]
        rows.append((name, dims, row["unit"], str(row["docs"]), str(len(row["values"])), fmt(sum(v)),
                     fmt(min(v)), fmt(p50(v)), fmt(max(v))))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
