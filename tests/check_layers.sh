#!/bin/sh
# The directory ladder of the sources (README.md, "Layout"): a file may include headers of its own directory
# and of the directories below it, never above.  Also: SQLite is named only inside results/ (and tests/).
# Usage: check_layers.sh [SOURCE_ROOT]; prints every violation as file:line and exits 1 when there is one.
root=${1:-${SW_SOURCE_DIR:-.}}
cd "$root" || exit 2
ladder="common kernels models experiments results proto workers orchestrator cli"
rung() { # rung of a top-level directory, or empty when it is not on the ladder
  i=0
  for d in $ladder; do
    [ "$d" = "$1" ] && { echo $i; return; }
    i=$((i + 1))
  done
}
status=0
sources=$(find . -path ./tests -prune -o -path './build*' -prune -o -path ./cache -prune -o -path ./.git -prune \
  -o -type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
for f in $sources; do
  dir=${f%%/*}
  if [ "$dir" = "$f" ] || [ -z "$(rung "$dir")" ]; then
    echo "$f: not in a directory of the ladder ($ladder)"
    status=1
    continue
  fi
  own=$(rung "$dir")
  # every #include "top/..." with its line number
  grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_]+/' "$f" |
    sed -E 's/^([0-9]+):[^"]*"([a-z_]+)\/.*/\1 \2/' > "${TMPDIR:-/tmp}/sw_layers.$$"
  while read -r line target; do
    to=$(rung "$target")
    if [ -z "$to" ]; then
      echo "$f:$line: includes $target/, which is not on the ladder"
      status=1
    elif [ "$to" -gt "$own" ]; then
      echo "$f:$line: $dir/ includes $target/, a directory above it on the ladder ($ladder)"
      status=1
    fi
  done < "${TMPDIR:-/tmp}/sw_layers.$$"
  rm -f "${TMPDIR:-/tmp}/sw_layers.$$"
  if [ "$dir" != results ] && grep -n sqlite3 "$f" > /dev/null; then
    grep -n sqlite3 "$f" | sed "s|^|$f:|;s|\$|   <- SQLite outside results/|"
    status=1
  fi
done
[ $status -eq 0 ] && echo "directory ladder holds: $ladder; SQLite only in results/"
exit $status
