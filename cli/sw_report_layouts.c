/* Report layouts: named presets of `sparsweep report` options that print a paper's table from the run of its
 * experiment file in experiments/papers/ (rows, columns and cell metrics; see docs/papers.md).  An explicit
 * --rows/--cols/--metric overrides the preset's. */
#include <string.h>

#include "cli/sw_cli.h"

static const sw_report_layout_t layouts[] = {
    {"cats", "method", "sparsity", "task_acc,task_acc_norm,ppl,ffn_flops_saved,decode_speedup",
     "CATS (Lee et al. 2024): zero-shot accuracy and perplexity at 50% FFN sparsity vs dense"},
    {"teal", "method", "sparsity", "ppl,task_acc",
     "TEAL Table 1 (Liu et al. 2024): perplexity at 0/25/40/50/65% model-wide sparsity; one table per allocation "
     "(teal_alloc uniform / greedy) and the CATS baseline"},
    {"chess", "method", "sparsity", "task_acc,task_acc_norm,model_flops_saved,decode_speedup",
     "CHESS (He et al. 2024): accuracy per task, activated-parameter fraction (1 - model_flops_saved), CPU speedup"},
    {"d2dmoe", "method", "tau", "task_acc,ppl,model_flops_saved,router_recall,router_precision,router_density",
     "D2DMoE (Szatkowski et al. 2024): score vs the fraction of base FLOPs over the tau sweep"},
    {"moefication", "clustering", "router", "task_acc,task_acc_diff,ppl,kl,router_recall,router_precision",
     "MoEfication (Zhang et al. 2022): expert construction (rows) x router (columns) at 20% of experts kept"},
    {"relu2", "activation", "tau", "task_acc,ppl,achieved_sparsity",
     "ReLU^2 (Zhang et al. 2024): performance vs sparsity under CETT for each activation"},
};

const sw_report_layout_t *sw_report_layout_find(const char *name) {
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
    if (strcmp(layouts[i].name, name) == 0) return &layouts[i];
  return NULL;
}

void sw_report_layouts_list(FILE *f) {
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
    fprintf(f, "    %-12s %s\n", layouts[i].name, layouts[i].help);
}
