#!/usr/bin/env python3
"""Independent reference for experiments/sw_canon.c, written from the rules in experiments/README.md
("Trial identity"), not from the C code: re-canonicalises every trial config printed by
`sparsweep plan --json` and checks the text's SHA-256 against the hash sparsweep reported.

usage: sparsweep plan --json FILE | canon_config_ref.py      (exit 0 when every trial agrees)
"""
import hashlib
import json
import os
import re
import sys

EXACT_INT_LIMIT = 2 ** 53  # doubles below this that hold an integer print as that integer


def number(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if v == int(v) and abs(v) < EXACT_INT_LIMIT:
        return str(int(v))
    text = repr(v)  # Python's repr is the shortest round-trip form
    if "e" not in text:
        return text
    mantissa, exp = text.split("e")
    e = int(exp)  # C's %g writes at least two exponent digits and a sign
    return "%se%s%02d" % (mantissa, "-" if e < 0 else "+", abs(e))


def value(v):
    if isinstance(v, list):
        return "[" + ",".join(value(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return number(v)


def canonical(config):
    keys = sorted(config, key=lambda k: k.encode("utf-8"))  # bytewise order
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + value(config[k]) for k in keys) + "}"


# experiments/README.md "Trial identity", changed defaults: (workload, key) -> the legacy default.  Every config of
# that workload carries the key, and the hashed text leaves it out when it holds the legacy default.
LEGACY_DEFAULTS = {("model", "weights"): "f32"}


def hashed_config(config):
    """The config as hashed: keys at their legacy default left out.  Raises when a changed-default key is missing
    (the expander must record it in every config of the workload)."""
    out = dict(config)
    for (workload, key), legacy in LEGACY_DEFAULTS.items():
        if config.get("workload") != workload:
            continue
        if key not in config:
            raise ValueError("config of workload %s lacks the changed-default key %s: %r" % (workload, key, config))
        if config[key] == legacy:
            del out[key]
    return out


def method_versions():
    """Definition version of every method spelling, read from the X-macro rows of common/sw_methods.h:
    X("canonical", "alias|alias", version, "definition")."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "sw_methods.h")
    versions = {}
    with open(path, encoding="utf-8") as f:
        for m in re.finditer(r'X\("([a-z0-9_]+)", "([a-z0-9_|]*)", ([0-9]+),', f.read()):
            for name in [m.group(1)] + [a for a in m.group(2).split("|") if a]:
                versions[name] = int(m.group(3))
    return versions


def main():
    plan = json.load(sys.stdin)
    versions = method_versions()
    bad = 0
    for t in plan["trials"]:
        try:
            text = canonical(hashed_config(t["config"]))
        except ValueError as e:
            print("trial %d: %s" % (t["index"], e))
            bad += 1
            continue
        method = t["config"].get("method")
        version = versions.get(method, 1) if isinstance(method, str) else 1
        if version > 1:  # experiments/README.md "Trial identity": a changed method definition changes the hash
            text += "\nmethod_version=%d" % version
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest != t["hash"]:
            print("trial %d: reference %s != sparsweep %s for %s" % (t["index"], digest, t["hash"], text))
            bad += 1
    print("canon_config_ref: %d trials, %d mismatches" % (len(plan["trials"]), bad))
    return 1 if bad or plan["count"] != len(plan["trials"]) else 0


if __name__ == "__main__":
    sys.exit(main())
