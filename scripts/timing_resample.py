#!/usr/bin/env python3
"""What the adaptive repetitions (common/sw_stats.h sw_reps_decide) would do to the model trials of a database
recorded with a fixed count: every trial's timed phase is replayed with whole repetitions drawn at random from
its stored ones (so dense and method stay paired), the rule run on them (minimum = the stored count, target,
maximum), and the precision gate of the reports (95 % median interval half-width <= GATE, series and paired
speedups) applied to where it stopped.  Drawing from the stored repetitions assumes the noise is independent
between repetitions; drift inside a phase is not modelled.  Used for docs/measurement.md, "Adaptive repetitions".

usage: timing_resample.py DB [TARGET 0.10] [MAX 21] [DRAWS 300] [GATE 0.135]   (the defaults of the code)
"""
import sqlite3
import sys
from math import comb

import numpy as np

SERIES = ("decode_dense", "decode_sparse", "prefill_dense", "prefill_sparse")


def cut(n):
    """Largest l with P(Bin(n, 1/2) <= l - 1) <= 0.025 (0: no 95 % interval), as sw_median_ci."""
    acc, l = 0.0, 0
    for k in range(n):
        acc += comb(n, k) / 2**n
        if acc > 0.025:
            break
        l = k + 1
    return l


def relhw(v):
    n, l = len(v), cut(len(v))
    if l == 0:
        return float("nan")
    s = np.sort(v)
    return (s[n - l] - s[l - 1]) / (2 * np.median(s))


def widths(x):
    return [relhw(x[i]) for i in range(4)] + [relhw(x[0] / x[1]), relhw(x[2] / x[3])]


def replay(x, target, most, gate, rng):
    n0 = x.shape[1]
    idx = np.concatenate([np.arange(n0), rng.integers(0, n0, max(most - n0, 0))])
    for n in range(n0, max(most, n0) + 1):
        w = widths(x[:, idx[:n]])
        if max(w) <= target or n >= most:
            return n, max(w) > gate


def main():
    db = sqlite3.connect(sys.argv[1])
    target = float(sys.argv[2]) if len(sys.argv) > 2 else 0.10
    most = int(sys.argv[3]) if len(sys.argv) > 3 else 21
    draws = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    gate = float(sys.argv[5]) if len(sys.argv) > 5 else 0.135
    rng = np.random.default_rng(1)
    invalid, reps, trials = 0.0, [], 0
    for (tid,) in db.execute("SELECT trial_id FROM trials WHERE status = 'ok'"):
        s = {}
        for name, v in db.execute("SELECT series, value FROM samples WHERE trial_id = ? ORDER BY series, rep", (tid,)):
            s.setdefault(name, []).append(v)
        if not all(k in s for k in SERIES):
            continue
        x = np.array([s[k] for k in SERIES])
        runs = [replay(x, target, most, gate, rng) for _ in range(draws)]
        invalid += np.mean([r[1] for r in runs])
        reps.append(np.mean([r[0] for r in runs]))
        trials += 1
    print(f"{trials} trials: expected INVALID {invalid:.1f}, mean repetitions {np.mean(reps):.1f} "
          f"(target {target}, max {most}, gate {gate}, {draws} draws per trial)")


if __name__ == "__main__":
    main()
