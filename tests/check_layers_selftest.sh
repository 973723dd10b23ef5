#!/bin/sh
# check_layers.sh must catch what it claims to: an upward include, an include of a directory off the ladder,
# a source outside the ladder and SQLite outside results/, each named by file:line; a clean tree passes.
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d) || exit 2
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/common" "$t/workers" "$t/cli" "$t/results" "$t/tests"
printf '#include "common/sw_err.h"\n' > "$t/workers/ok.c"
printf '#include "results/sw_store.h"\n#include <sqlite3.h>\n' > "$t/results/store.c"
printf '#include "tests/anything.h"\n' > "$t/tests/free.c" # tests/ is not checked
sh "$here/check_layers.sh" "$t" > "$t/out.txt" || { cat "$t/out.txt"; echo "FAIL: clean tree refused"; exit 1; }
printf '/* a */\n#include "common/sw_err.h"\n#include "workers/sw_trial.h"\n' > "$t/common/up.h"
printf '#include "nowhere/x.h"\n' > "$t/cli/off.c"
printf 'static int x; /* sqlite3_open */\n' > "$t/cli/db.c"
mkdir -p "$t/extra" && printf 'int y;\n' > "$t/extra/z.c"
if sh "$here/check_layers.sh" "$t" > "$t/out.txt"; then cat "$t/out.txt"; echo "FAIL: violations accepted"; exit 1; fi
for want in "common/up.h:3: common/ includes workers/" "cli/off.c:1: includes nowhere/" "cli/db.c:1:" \
            "extra/z.c: not in a directory of the ladder"; do
  grep -qF "$want" "$t/out.txt" || { cat "$t/out.txt"; echo "FAIL: missing '$want'"; exit 1; }
done
echo "check_layers.sh: clean tree passes, 4 kinds of violation caught"
# check_env_doc.sh: a variable read but not documented is named; documented, it passes.
mkdir -p "$t/env/docs" "$t/env/workers"
printf 'const char *v(void) { return getenv("SW_NEW_KNOB"); }\n' > "$t/env/workers/knob.c"
printf '# Environment\n| `SPARSWEEP_LOG` | ... |\n' > "$t/env/docs/environment.md"
if sh "$here/check_env_doc.sh" "$t/env" > "$t/out.txt"; then cat "$t/out.txt"; echo "FAIL: undocumented variable accepted"; exit 1; fi
grep -q "SW_NEW_KNOB is read" "$t/out.txt" || { cat "$t/out.txt"; echo "FAIL: SW_NEW_KNOB not named"; exit 1; }
printf '| `SW_NEW_KNOB` | ... |\n' >> "$t/env/docs/environment.md"
sh "$here/check_env_doc.sh" "$t/env" > "$t/out.txt" || { cat "$t/out.txt"; echo "FAIL: documented variable refused"; exit 1; }
echo "check_env_doc.sh: an undocumented variable is caught, a documented one passes"
