#!/usr/bin/env python3
"""bench/perf-layers.py - groups a `perf record --call-graph dwarf` profile of
triggerd into layers (HTTP, JSON, SQL, commit, fsync, ...) and request kinds.
Usage: perf script -i perf.data | bench/perf-layers.py [runs-per-second]"""
import collections, re, sys

def samples(lines):
    cur = None
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                yield cur
            cur = None
        elif line[0] not in " \t":
            cur = []
        elif cur is not None:
            p = line.split(None, 2)
            if len(p) >= 2:
                cur.append((re.sub(r"\+0x[0-9a-f]+$", "", p[1]), p[2] if len(p) > 2 else ""))
    if cur:
        yield cur

def layer(st):
    syms = [s for s, _ in st]
    has = lambda *n: any(s in syms for s in n)
    leaf_dso = st[0][1] if st else ""
    if has("store_sync", "fdatasync", "__GI_fdatasync"):
        return "fsync (flush thread)"
    if has("store_commit"):
        return "SQLite commit (WAL page writes)"
    if has("sqlite3_step", "sqlite3_exec", "sqlite3_prepare_v2", "sqlite3_prepare_v3", "sqlite3_reset"):
        return "SQL statements"
    if any(s.startswith("json_") or s.startswith("jsontext_") for s in syms) or "libjansson" in leaf_dso:
        return "JSON (jansson parse/build/dump)"
    if has("h2o_send_inline", "__GI___writev", "uv_write2", "uv__read", "uv__stream_io", "send_all"):
        return "HTTP socket I/O (kernel)"
    if "libh2o" in leaf_dso or any(s.startswith("h2o_") for s in syms):
        return "HTTP parse/reply (h2o)"
    if any(s in ("malloc", "_int_malloc", "_int_free", "cfree@GLIBC_2.2.5", "malloc_consolidate") for s in syms[:3]):
        return "malloc/free"
    if "kernel" in leaf_dso:
        return "kernel other (scheduling, epoll)"
    return "engine/api/other C"

KINDS = {
    "api_dev_dequeue": "dequeue (handler)",
    "api_attempt_start": "attempt start (handler)",
    "api_attempt_complete": "attempt complete (handler)",
    "on_check": "commit + answers not waiting for fsync (on_check)",
    "flush_work": "fsync (flush thread)",
    "flush_done": "answers after fsync (flush_done)",
    "api_trigger": "trigger (handler)",
    "authenticate": "authentication",
}

def kind(st):
    for s, _ in st:
        if s in KINDS:
            return KINDS[s]
        if s.startswith("api_"):
            return "other api: " + s
    return "event loop, socket reads, HTTP parsing (h2o)"

n, L, K = 0, collections.Counter(), collections.Counter()
for st in samples(sys.stdin):
    n += 1
    L[layer(st)] += 1
    K[kind(st)] += 1
print(f"{n} samples")
for name, c in (("layer", L), ("request", K)):
    print(f"\nby {name}:")
    for k, v in c.most_common():
        print(f"  {100 * v / n:5.1f} %  {k}")
