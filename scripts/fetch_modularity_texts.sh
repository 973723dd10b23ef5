#!/usr/bin/env bash
# Offline texts of different kinds for the modularity example (experiments/examples/modularity.yaml), copied
# from files that Debian packages already put on the machine (nothing is downloaded):
#   legal.txt   /usr/share/common-licenses/GPL-3          (base-files)
#   c_code.txt  /usr/include/stdio.h                      (libc6-dev, needed to build anyway)
#   python.txt  /usr/lib/python3.*/argparse.py            (libpython3.*-minimal, with python3)
#   docs.txt    /usr/share/perl/*/pod/perldiag.pod        (perl-modules-*, with perl)
# Prose is the Austen text of scripts/fetch_text.sh.  Idempotent; fails naming the missing file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${SPARSWEEP_CACHE:-$here/cache}/text"
mkdir -p "$dest"
copy() { # copy NAME GLOB
  local src
  src="$(ls -1 $2 2>/dev/null | sort | tail -n 1 || true)"
  [ -n "$src" ] && [ -s "$src" ] || { echo "modularity texts: no file matches $2" >&2; exit 1; }
  [ -s "$dest/$1" ] || cp "$src" "$dest/$1"
  echo "text: $dest/$1 (from $src)"
}
copy legal.txt "/usr/share/common-licenses/GPL-3"
copy c_code.txt "/usr/include/stdio.h"
copy python.txt "/usr/lib/python3.*/argparse.py"
copy docs.txt "/usr/share/perl/*/pod/perldiag.pod"
