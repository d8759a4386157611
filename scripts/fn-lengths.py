#!/usr/bin/env python3
"""Prints the longest Rust functions (in lines, signature to closing brace) under the given
directories: `python3 scripts/fn-lengths.py shared/src functions/src [--top N]`. Test modules
(`#[cfg(test)]`) are skipped. A brace counter, not a parser: braces inside strings and chars are
ignored well enough for this codebase's style."""
import re, sys, pathlib

def strip(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split('//')[0]

def functions(path):
    lines = path.read_text().splitlines()
    i, out = 0, []
    while i < len(lines):
        s = strip(lines[i])
        if re.match(r'\s*#\[cfg\(test\)\]', lines[i]):
            break
        m = re.match(r'\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)', s)
        if m:
            depth, start, j, opened = 0, i, i, False
            while j < len(lines):
                t = strip(lines[j])
                if not opened and ';' in t and '{' not in t:
                    break  # a declaration without a body
                depth += t.count('{') - t.count('}')
                opened = opened or '{' in t
                if opened and depth <= 0:
                    out.append((j - start + 1, f"{path}:{start + 1}", m.group(6)))
                    break
                j += 1
        i += 1
    return out

args = sys.argv[1:]
top = 10
if '--top' in args:
    k = args.index('--top'); top = int(args[k + 1]); del args[k:k + 2]
found = []
for d in args:
    for p in sorted(pathlib.Path(d).rglob('*.rs')):
        found += functions(p)
found.sort(reverse=True)
for n, where, name in found[:top]:
    print(f"{n:5} {name:40} {where}")
