/* sw_cmd_table: the table of subcommands, sorted by name (tests/unit/test_cli.c checks it), one line of help
 * each.  A new command is one row here plus its cli/cmd_<name>.c. */
#include "cli/sw_cli.h"

const sw_cmd_t sw_cmd_table[] = {
    {"bench", cmd_bench, "benchmarks that print same-run ratios: `bench kernels|moe|weights|orchestration`"},
    {"compare", cmd_compare, "compare two runs' latencies and counts; exit 1 on a significant regression"},
    {"executor", cmd_executor, "(internal) the per-rank trial executor process started by workers"},
    {"export", cmd_export, "export a results database to CSV or JSON Lines"},
    {"history", cmd_history, "a metric across runs ordered by commit, with step changes marked"},
    {"merge", cmd_merge, "merge result databases (e.g. a job array) without duplicates"},
    {"model", cmd_model, "inspect a GGUF model or HF checkpoint, tokenize text, or fetch the default model path"},
    {"plan", cmd_plan, "expand an experiment file and print its trials without running anything"},
    {"report", cmd_report, "paper-style tables, Pareto views and plots from a results database"},
    {"run", cmd_run, "run an experiment file (under mpirun: rank 0 orchestrates, others work)"},
    {"version", cmd_version, "print version and build information"},
    {"watch", cmd_watch, "live progress of a running sweep from its event stream"},
    {"workloads", cmd_workloads, "the keys each workload accepts: type, default, range, unit, help"},
};
const int sw_cmd_count = (int)(sizeof sw_cmd_table / sizeof sw_cmd_table[0]);
