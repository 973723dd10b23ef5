#!/bin/sh
# Every environment variable the sources outside tests/ read (getenv("NAME"), or a NAME_ENV macro passed to
# getenv) must be listed in docs/environment.md.  Usage: check_env_doc.sh [SOURCE_ROOT].
root=${1:-${SW_SOURCE_DIR:-.}}
cd "$root" || exit 2
doc=docs/environment.md
[ -f "$doc" ] || { echo "missing $doc"; exit 1; }
names=$(
  find . -path ./tests -prune -o -path './build*' -prune -o -path ./.git -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print |
    xargs grep -hoE 'getenv\("[A-Za-z0-9_]+"\)|#define [A-Z0-9_]+_ENV "[A-Za-z0-9_]+"' |
    sed -E 's/getenv\("([^"]+)"\)/\1/; s/#define [A-Z0-9_]+ "([^"]+)"/\1/'
  # arrays of names handed to getenv in a loop (cli/cmd_run.c)
  [ -f cli/cmd_run.c ] && grep -hoE '"(OMPI|PMIX|PMI)_[A-Z_]+"' cli/cmd_run.c | tr -d '"'
)
status=0
for n in $(printf '%s\n' $names | sort -u); do
  grep -q "\`$n\`" "$doc" || { echo "$n is read by the sources but not documented in $doc"; status=1; }
done
[ $status -eq 0 ] && echo "every environment variable read is documented in $doc: $(printf '%s ' $(printf '%s\n' $names | sort -u))"
exit $status
