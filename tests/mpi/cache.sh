#!/usr/bin/env bash
# Workers keep their executor, and so its cache of expensive objects, across trials (and across a
# crashing trial): every ok trial on a rank reports the same cache creator pid and creation time.
. "$(dirname "$0")/lib.sh"
db="$WORK/cache.db"
mpirun -np 3 "$SPARSWEEP" run "$TESTS/cache_trials.yaml" --db "$db" --events none > "$WORK/run.out" 2>&1 \
  || { cat "$WORK/run.out"; fail "run failed"; }
check "ok rows" "$(sql "$db" "select count(*) from trials where status='ok'")" 20
check "segv row" "$(sql "$db" "select status||' '||signal from trials where config like '%segv%'")" "failed 11"
q="select max(n) from (select count(distinct m.value) as n from metrics m join trials t using(trial_id)
   where m.name='%s' group by t.rank)"
check "cache creators per rank" "$(sql "$db" "$(printf "$q" cache_created_pid)")" 1
check "cache creation times per rank" "$(sql "$db" "$(printf "$q" cache_created_ns)")" 1
check "trial pids differ (one child per trial)" \
  "$(sql "$db" "select count(distinct value) from metrics where name='pid'")" 20
echo "PASS"
