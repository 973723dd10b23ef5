/* sw_methods: one vocabulary of sparsity methods across workloads: each method has one canonical name and the
 * other spellings workloads accept for it (the ffn workload was written with threshold / moe_dynk_max /
 * predictor, the model workload with cats / d2dmoe / dejavu).  Both workloads accept every spelling of the
 * methods they implement (experiments/sw_keys_table.c), runners translate through sw_method_canonical, and
 * reports show the canonical name.  A trial's config keeps the spelling its file wrote, so the config hash of
 * every existing file is unchanged and its database resumes (tests/reference/config_hashes.txt). */
#ifndef SW_METHODS_H
#define SW_METHODS_H
#include <stddef.h>

/* X(canonical, aliases ("a|b" or ""), definition) */
#define SW_METHODS(X)                                                                                                  \
  X("dense", "", "no sparsity: the reference every method is compared with")                                        \
  X("topk", "", "oracle top-k: per token, keep the k intermediate neurons of largest |h|")                          \
  X("cats", "threshold", "CATS: per layer, a threshold on |act(gate)| calibrated to the target sparsity")           \
  X("chess", "", "CHESS: per-channel thresholds on the intermediate activations, calibrated per layer")            \
  X("cett", "", "CETT: per layer, the threshold whose tail truncation error of the FFN output meets tau")           \
  X("random", "", "control: a random set of neurons of the target size")                                          \
  X("teal", "", "TEAL: magnitude thresholds on the inputs of every projection, calibrated model-wide")             \
  X("d2dmoe", "moe_dynk_max", "D2DMoE: experts from clustered neurons, a regression router, run expert e iff its predicted norm >= tau * the largest") \
  X("moefication", "", "MoEfication: experts from clustered neurons, a classifier router, top-k experts")           \
  X("moe_topk", "", "MoE conversion with a static top-k of experts per token (ffn workload)")                        \
  X("moe_dynk_cum", "", "MoE conversion running the smallest set of experts whose predicted share reaches tau")   \
  X("lte", "moe_lte", "LTE: MoE conversion with sigmoid expert scores trained with an efficiency + separability loss; experts scoring above 0.5 run") \
  X("dejavu", "predictor", "Deja Vu: a low-rank predictor of the active neurons, trained on calibration data")

/* The canonical name of a method spelling, or NULL when word names no method. */
const char *sw_method_canonical(const char *word);

/* The entry of spellings[n] naming the same method as word, or NULL. */
const char *sw_method_spelling(const char *word, const char *const *spellings, size_t n);

/* The definition of a canonical name or alias, or NULL. */
const char *sw_method_definition(const char *word);

#endif
