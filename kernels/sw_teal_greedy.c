/* sw_teal_greedy: the greedy loop of kernels/sw_teal_greedy.h. */
#include "kernels/sw_teal_greedy.h"

#include <math.h>
#include <string.h>

double sw_teal_block_sparsity(const double *s, const double *size, int n) {
  double num = 0, den = 0;
  for (int i = 0; i < n; i++) num += size[i] * s[i], den += size[i];
  return den > 0 ? num / den : 0.0;
}

static sw_rc greedy_check(const sw_teal_greedy_cfg_t *c, sw_err_t *err) {
  if (c->n < 1 || c->n > SW_TEAL_GREEDY_MAX) return sw_err_set(err, SW_ERR_RANGE, "teal greedy: n %d", c->n);
  for (int i = 0; i < c->n; i++)
    if (!(c->size[i] > 0)) return sw_err_set(err, SW_ERR_RANGE, "teal greedy: size[%d] = %g", i, c->size[i]);
  if (!(c->step > 0 && c->step < 1)) return sw_err_set(err, SW_ERR_RANGE, "teal greedy: step %g", c->step);
  if (!(c->max_s > 0 && c->max_s <= 1)) return sw_err_set(err, SW_ERR_RANGE, "teal greedy: max_s %g", c->max_s);
  if (!(c->target >= 0 && c->target <= c->max_s))
    return sw_err_set(err, SW_ERR_RANGE, "teal greedy: target %g outside [0, max_s %g]", c->target, c->max_s);
  return SW_OK;
}

/* The increment of tensor i: step, shortened so the block does not pass the target nor i its ceiling. */
static double increment(const sw_teal_greedy_cfg_t *c, const double *s, int i, double block) {
  double total = 0;
  for (int j = 0; j < c->n; j++) total += c->size[j];
  double to_target = (c->target - block) * total / c->size[i];
  double d = c->step < to_target ? c->step : to_target;
  return d < c->max_s - s[i] ? d : c->max_s - s[i];
}

sw_rc sw_teal_greedy(double *s, const sw_teal_greedy_cfg_t *cfg, sw_teal_block_err_fn f, void *ctx, int *steps,
                     sw_err_t *err) {
  sw_rc rc = greedy_check(cfg, err);
  if (rc) return rc;
  memset(s, 0, (size_t)cfg->n * sizeof *s);
  int n_steps = 0;
  const double eps = 1e-12;
  for (double block = 0; block < cfg->target - eps; block = sw_teal_block_sparsity(s, cfg->size, cfg->n)) {
    int best = -1;
    double best_err = INFINITY, best_d = 0;
    for (int i = 0; i < cfg->n; i++) {
      double d = increment(cfg, s, i, block);
      if (d <= eps) continue;
      s[i] += d;
      double e = f(ctx, s, cfg->n);
      s[i] -= d;
      if (best < 0 || e < best_err) best = i, best_err = e, best_d = d;
    }
    if (best < 0) return sw_err_set(err, SW_ERR_RANGE, "teal greedy: every tensor at max_s before the target");
    s[best] += best_d;
    n_steps++;
  }
  if (steps) *steps = n_steps;
  return SW_OK;
}
