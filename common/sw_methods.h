/* sw_methods: one vocabulary of sparsity methods across workloads: each method has one canonical name and the
 * other spellings workloads accept for it (the ffn workload was written with threshold / moe_dynk_max /
 * predictor, the model workload with cats / d2dmoe / dejavu).  Both workloads accept every spelling of the
 * methods they implement (experiments/sw_keys_table.c), runners translate through sw_method_canonical, and
 * reports show the canonical name.  A trial's config keeps the spelling its file wrote, so the config hash of
 * every existing file is unchanged and its database resumes (tests/reference/config_hashes.txt). */
#ifndef SW_METHODS_H
#define SW_METHODS_H
#include <stddef.h>

/* X(canonical, aliases ("a|b" or ""), definition version, definition).  The version counts changes of a method's
 * definition that change its results under the same config: a trial whose method has version v > 1 hashes its
 * config followed by "\nmethod_version=v" (experiments/sw_grid.c), so a database recorded with an older
 * definition does not resume it (the trial reruns), while methods at version 1 keep the plain config hash of every
 * existing file.  Bump a version when a change of the code or of a default changes what the method computes.
 * dejavu 2: the validation split and recall-based early stopping of Deja Vu's trainer (AdamW, weight decay 0.01). */
#define SW_METHODS(X)                                                                                                  \
  X("dense", "", 1, "no sparsity: the reference every method is compared with")                                        \
  X("topk", "", 1, "oracle top-k: per token, keep the k intermediate neurons of largest |h|")                          \
  X("cats", "threshold", 1, "CATS: per layer, a threshold on |act(gate)| calibrated to the target sparsity")           \
  X("chess", "", 1, "CHESS: per-channel thresholds on the intermediate activations, calibrated per layer")            \
  X("cett", "", 1, "CETT: per layer, the threshold whose tail truncation error of the FFN output meets tau")           \
  X("random", "", 1, "control: a random set of neurons of the target size")                                          \
  X("teal", "", 1, "TEAL: magnitude thresholds on the inputs of every projection, calibrated model-wide")             \
  X("d2dmoe", "moe_dynk_max", 1, "D2DMoE: experts from clustered neurons, a regression router, run expert e iff its predicted norm >= tau * the largest") \
  X("moefication", "", 1, "MoEfication: experts from clustered neurons, a classifier router, top-k experts")           \
  X("moe_topk", "", 1, "MoE conversion with a static top-k of experts per token (ffn workload)")                        \
  X("moe_dynk_cum", "", 1, "MoE conversion running the smallest set of experts whose predicted share reaches tau")   \
  X("lte", "moe_lte", 1, "LTE: MoE conversion with sigmoid expert scores trained with an efficiency + separability loss; experts scoring above 0.5 run") \
  X("dejavu", "predictor", 2, "Deja Vu: a low-rank predictor of the active neurons, trained on calibration data")            \
  X("powerinfer", "", 1, "PowerInfer: a per-layer MLP predictor with ReLU; neurons whose predicted logit clears a threshold run")

/* The canonical name of a method spelling, or NULL when word names no method. */
const char *sw_method_canonical(const char *word);

/* The entry of spellings[n] naming the same method as word, or NULL. */
const char *sw_method_spelling(const char *word, const char *const *spellings, size_t n);

/* The definition version of a canonical name or alias (see SW_METHODS), 0 when word names no method. */
int sw_method_version(const char *word);

/* The definition of a canonical name or alias, or NULL. */
const char *sw_method_definition(const char *word);

#endif
