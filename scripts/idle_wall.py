#!/usr/bin/env python3
"""Estimates the wall time a recorded run would take on an idle host, from what its trials recorded.

On a loaded machine the wall time of a run says more about the other jobs than about the run; its CPU time does
not.  Each worker runs one single-threaded trial at a time, so on an idle host with one core per worker its wall
time is about the CPU time of its trials (metric cpu_s) plus its executor's shared preparation (prepare_cpu_s),
plus the time it pauses while the other worker times (measure.quiet: the timed phases never overlap).  Estimate:

    idle wall ~= max over ranks of sum(prepare_cpu_s + cpu_s)  +  sum over all trials of the timed phases
                 + startup

with a trial's timed phase = (warmup + repetitions) x (decode_tokens x (decode_s_dense + decode_s_sparse)
+ prompt_tokens x (1 / prefill_tok_s_dense + 1 / prefill_tok_s_sparse)), which counts every timed phase as a pause
of the other worker (an upper bound), and startup the model load and spawn (measured: a few seconds).  CPU time
measured under load is itself somewhat inflated (shared caches), so the estimate errs high.

Usage: idle_wall.py DB [STARTUP_S]   (needs runs recorded with cpu_s / prepare_cpu_s; prints one line per run)
"""
import json
import sqlite3
import sys


def metric_table(con, run_id):
    rows = con.execute(
        "SELECT t.trial_id, t.rank, t.duration_s, t.config, m.name, m.value FROM trials t "
        "JOIN metrics m ON m.trial_id = t.trial_id WHERE t.run_id = ? AND t.status = 'ok'", (run_id,))
    trials = {}
    for tid, rank, dur, config, name, value in rows:
        t = trials.setdefault(tid, {"rank": rank, "duration_s": dur, "config": json.loads(config), "m": {}})
        t["m"][name] = value
    return trials


def timed_seconds(t):
    m, c = t["m"], t["config"]
    reps = c.get("repetitions", 7) + c.get("warmup", 1)
    dec = c.get("decode_tokens", 16) * ((m.get("decode_s_dense") or 0) + (m.get("decode_s_sparse") or 0))
    pre = sum(c.get("prompt_tokens", 32) / m[k] for k in ("prefill_tok_s_dense", "prefill_tok_s_sparse") if m.get(k))
    return reps * (dec + pre)


def main():
    con = sqlite3.connect(sys.argv[1])
    startup = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    for run_id, started, ended in con.execute("SELECT run_id, started_s, ended_s FROM runs ORDER BY run_id").fetchall():
        trials = metric_table(con, run_id)
        if not trials or any("cpu_s" not in t["m"] for t in trials.values()):
            print(f"run {run_id}: no cpu_s metrics (recorded before they existed)")
            continue
        per_rank = {}
        for t in trials.values():
            per_rank[t["rank"]] = per_rank.get(t["rank"], 0.0) + t["m"]["cpu_s"] + (t["m"].get("prepare_cpu_s") or 0)
        timed = sum(timed_seconds(t) for t in trials.values())
        est = max(per_rank.values()) + timed + startup
        wall = (ended - started) if ended and started else float("nan")
        cpu = " + ".join(f"rank {r}: {s:.0f} s" for r, s in sorted(per_rank.items()))
        print(f"run {run_id}: {len(trials)} trials, measured wall {wall / 60:.1f} min; CPU {cpu}; timed phases "
              f"{timed:.0f} s; estimated idle wall {est / 60:.1f} min")


if __name__ == "__main__":
    main()
