/* sw_lte: the router of LTE, Learn-To-be-Efficient (Zheng et al., NeurIPS 2024, arXiv 2402.06126, §3): per FFN
 * one linear layer without bias, G_e(x) = sigmoid(x·W_g,e), expert e runs iff G_e(x) > τ = 0.5.  Stage 1 of the
 * paper trains routers and model together on L_task + η·L_eff + λ·L_sep with the soft FFN Σ_e G_e(x)·E_e(x):
 *   L_eff = mean over experts of G_e²,   L_sep = mean over experts of 1/(G_e − τ)²   (λ = 0.5).
 * This suite trains the routers only (the model stays frozen, no stage-2 adaptation), so L_task is the layer's
 * own output error of the soft FFN relative to the dense one: ‖Σ_e (G_e − 1)·E_e(x)‖² / ‖Σ_e E_e(x)‖², computed
 * from the Gram matrix of the expert outputs (kernels/sw_moe.h, sw_moe_expert_gram).  A guard ε = 1e-6 keeps
 * L_sep finite at G_e = τ.  L_sep is a barrier at τ: with the routers alone trained from a random start (scores
 * near τ), it freezes the side of τ each score starts on and η then hardly changes the sparsity (measured in
 * tests/unit/test_moefy.c).  So L_sep is off (λ = 0) for the first lte_sep_warmup of the steps (this suite's
 * addition, default 0.5; 0 = the literal objective from the first step; a linear ramp of λ did not help: L_sep
 * near τ outweighs η·L_eff already at λ = 0.01): η and the task loss pick the side, then L_sep separates. */
#ifndef SW_LTE_H
#define SW_LTE_H
#include "common/sw_err.h"
#include "kernels/sw_moe.h"

#define SW_LTE_SEP_EPS 1e-6

/* Loss of one token from its scores G[E] and expert-output Gram matrix K[E][E]; dG[E] (may be NULL) receives
 * dL/dG.  task + eta·eff + lambda·sep as above. */
double sw_lte_token_loss(double *dG, const float *G, const float *K, int E, double eta, double lambda);

/* Shapes r as LTE's router and trains it on x[n_tok][d] (cfg: lr, batch, epochs, seed, lte_eta, lte_lambda,
 * val_frac: the epoch with the lowest held-out loss is kept). */
sw_rc sw_lte_train(sw_moe_router_t *r, const sw_moe_t *moe, const float *x, int n_tok, const sw_moe_router_cfg_t *cfg,
                   sw_err_t *err);

#endif
