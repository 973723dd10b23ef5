/* sw_plot: figures of a run as PNG and SVG, drawn by the gnuplot program (Debian gnuplot-nox; pngcairo and
 * svg terminals).  For each figure sw_plot writes NAME.dat (the data) and NAME.gp (the script) into the
 * output directory and runs `gnuplot NAME.gp`, so every figure can be re-drawn or restyled by hand. */

/* The figures:
 *   accuracy_vs_flops  accuracy metric against FLOPs, one line per method (the TEAL / D2DMoE figure)
 *   speedup_vs_sparsity  measured speedup against sparsity, one line per batch size (and other varying
 *                        axes), with the ideal 1/(1-s) curve
 *   latency            per-trial latency distributions (min, quartiles, median, max) per sample series
 *   overlap_heatmap    modularity workload: per layer, the IoU matrix of the top neuron sets between texts */
#ifndef SW_PLOT_H
#define SW_PLOT_H
#include <stddef.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "results/sw_report.h"

typedef struct sw_plot_opts {
  const char *gnuplot;            /* program to run (default "gnuplot", found through PATH) */
  const char *accuracy_metric;    /* NULL: first present of ppl, kl, rel_error, top1_agree */
  const char *flops_metric;       /* NULL: the first metric with unit "flop" or "flops" in its name, not a dense one */
  const char *speedup_metric;     /* NULL: "speedup" (or "decode_speedup") */
  size_t      max_latency_trials; /* at most this many trials in the latency figure (default 24) */
} sw_plot_opts_t;

/* Fills o with the defaults: gnuplot from PATH, at most 24 trials in the latency figure. */
void sw_plot_opts_default(sw_plot_opts_t *o);

/* Draws every figure the set has data for into dir (created if missing).  Lines naming each written file
 * (and each figure skipped, with why) are appended to log when not NULL.  SW_ERR_CHILD when gnuplot fails
 * (message has its exit status), SW_ERR_IO when dir or a file cannot be written, SW_ERR_NOTFOUND when no
 * figure has data. */
sw_rc sw_plot_run(sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_buf_t *log, sw_err_t *err);

/* The three figures one by one; each returns SW_ERR_NOTFOUND (and writes nothing) when the set lacks its data. */
sw_rc sw_plot_accuracy_vs_flops(const sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_err_t *err);
sw_rc sw_plot_speedup_vs_sparsity(const sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_err_t *err);
sw_rc sw_plot_latency(const sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_err_t *err);
sw_rc sw_plot_overlap_heatmap(const sw_rset_t *set, const char *dir, const sw_plot_opts_t *o, sw_err_t *err);

#endif
