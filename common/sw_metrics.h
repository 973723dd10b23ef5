/* sw_metrics: every metric a runner may emit, declared once: name (or a '*' pattern for per-layer / per-text
 * names), unit, which workloads emit it, and a one-sentence definition.  Runners emit through
 * sw_trial_out_metric (workers/sw_trial.c), which refuses an undeclared name or a unit other than the declared
 * one (the trial then fails naming it); reports look units and definitions up here (`sparsweep report --explain
 * METRIC`), and results/SCHEMA.md's metric list is checked against this table.
 *
 * Unit "*": the unit string carries the value's name (kernel_isa: portable, avx2 or avx512).
 * Workloads "legacy": written by older versions only; reports still read it from old databases. */
#ifndef SW_METRICS_H
#define SW_METRICS_H
#include <stddef.h>

/* X(name, unit, workloads, definition) */
#define SW_METRICS(X)                                                                                                 \
  /* timing and speed */                                                                                             \
  X("speedup", "ratio", "ffn test", "median over repetitions of the per-repetition ratio dense time / method time, dense and method interleaved") \
  X("time_dense", "s", "ffn", "median time of one dense FFN call")                                                  \
  X("time_method", "s", "ffn", "median time of one call of the method (selection included unless timing: kernel)") \
  X("ideal_speedup", "ratio", "ffn", "speedup if time were proportional to the weight bytes read: 1/(1-s), or 3/(1+2(1-s)) when the gate is computed to select") \
  X("gbs_dense", "GB/s", "ffn", "dense weight bytes per call divided by the median dense call time")                 \
  X("gbs_method", "GB/s", "ffn", "method weight bytes per call divided by the median method call time")              \
  X("decode_s_dense", "s/token", "model", "median over repetitions of the median dense decode step time")             \
  X("decode_s_sparse", "s/token", "model", "median over repetitions of the median decode step time with the method")  \
  X("decode_speedup", "ratio", "model", "median over repetitions of the ratio dense / method decode step time, interleaved") \
  X("prefill_tok_s_dense", "token/s", "model", "prompt tokens per second of the dense prefill (median repetition)")   \
  X("prefill_tok_s_sparse", "token/s", "model", "prompt tokens per second of the prefill with the method (median repetition)") \
  X("prefill_speedup", "ratio", "model", "median over repetitions of the ratio dense / method prefill time")         \
  X("prefill_median_of", "count", "model", "prefills of the prompt per repetition (each after the cold flush, from an empty state); the prefill sample is their median") \
  X("timing_reps", "count", "model", "timed repetitions the adaptive rule ran (between repetitions and max_repetitions; docs/measurement.md)") \
  X("timing_stop", "enum", "model", "why the timed repetitions stopped: 1 every median within ci_target, 2 max_repetitions reached, 3 timing_budget_s reached") \
  X("timing_ci_*", "fraction", "model", "relative half-width of the 95% interval of a timed median after the last repetition: decode_dense, decode_sparse, prefill_dense, prefill_sparse, or the paired decode_speedup / prefill_speedup") \
  X("prefill_cpu_fraction", "fraction", "model", "thread CPU time / wall time over the timed prefills of the measured repetitions (1: never off the core)") \
  X("decode_cpu_fraction", "fraction", "model", "thread CPU time / wall time over the timed decode steps of the measured repetitions") \
  X("prefill_preemptions", "count", "model", "involuntary context switches per timed prefill (mean over the measured repetitions)") \
  X("decode_preemptions", "count", "model", "involuntary context switches per timed decode step (mean)") \
  X("slot_wait", "s", "ffn model test", "seconds the trial waited for the host's measurement slot before timing")    \
  X("slot_mode", "enum", "ffn model test", "measurement slot used: 0 none, 1 socket, 2 node")                        \
  X("quiet", "bool", "ffn model test attribution modularity noop", "1 when the trial's untimed work paused while another trial of the host held the measurement slot (measure.quiet, workers/sw_slot.h), 0 when that check was off") \
  X("quiet_pause", "s", "ffn model test attribution modularity noop", "seconds the trial's untimed work spent paused while another trial of the host timed") \
  X("cpu_s", "s", "ffn model test attribution modularity noop", "CPU seconds (user + system, all threads) of the trial's own process, without the executor's shared preparation (prepare_cpu_s): with duration_s, how much of a trial's wall time was its own work") \
  X("prepare_cpu_s", "s", "ffn model test attribution modularity noop", "CPU seconds the executor spent preparing data shared by its trials (model, spans, dense reference, calibration inputs, task dense scores) just before this trial; 0 when its trial cache already held them") \
  X("threads", "count", "ffn", "threads of the timed calls")                                                          \
  X("kernel_isa", "*", "ffn model", "SIMD variant of the kernels that ran: value 0 portable, 1 avx2, 2 avx512; the unit names it") \
  X("n_weight_copies", "count", "ffn", "weight copies rotated through so that every call reads its weights from memory (1 when warm)") \
  /* sparsity */                                                                                                     \
  X("sparsity_target", "fraction", "ffn", "the target sparsity s of the config")                                     \
  X("achieved_sparsity", "fraction", "ffn model attribution", "fraction of FFN intermediate neurons not computed, mean over tokens (model: over the sparsified layers)") \
  X("sparsity_neuron", "fraction", "legacy", "older name of achieved_sparsity in ffn trials")                         \
  X("sparsity_token_p*", "fraction", "ffn model", "10th, 50th or 90th percentile over tokens of the per-token neuron sparsity") \
  X("sparsity_input", "fraction", "ffn", "teal: fraction of zeroed input channels of gate and up")                    \
  X("sparsity_model", "fraction", "ffn", "teal: parameter-weighted sparsity over the FFN matrices (input channels of gate/up, neurons of down)") \
  X("sparsity_expert", "fraction", "ffn", "fraction of experts not run, over tokens")                                   \
  X("sparsity_model_wide", "fraction", "model", "achieved sparsity averaged over all layers, dense layers counting 0")  \
  X("sparsity_definition", "definition", "model attribution", "which sparsity achieved_sparsity measures: 1 FFN intermediate neurons, 3 TEAL's size-weighted input channels of q/k/v/o/gate/up/down, 4 (token, expert) pairs not executed (MoE methods)") \
  X("sparsity_layer_*", "fraction", "model", "achieved sparsity of one layer (layer number in the name)")               \
  X("level", "fraction", "model", "the method's level: the target sparsity, or tau for cett and d2dmoe")              \
  X("head_sparsity", "fraction", "attribution", "fraction of attention heads deactivated")                              \
  X("sparsity_paper", "fraction", "attribution", "(1/3) head sparsity + (2/3) FFN neuron sparsity, the attribution paper's definition") \
  X("activation_ratio_paper", "fraction", "attribution", "1 - sparsity_paper")                                      \
  X("neurons_per_token_*", "count", "ffn", "predictor: neurons run per token, mean or 10th/50th/90th percentile")      \
  X("experts_per_token_*", "count", "ffn", "MoE: experts run per token, mean or 10th/50th/90th percentile")           \
  X("threshold", "value", "ffn", "the calibrated selection threshold of the method")                                   \
  X("t_x", "value", "ffn", "teal: calibrated threshold on the FFN input")                                             \
  X("t_h", "value", "ffn", "teal: calibrated threshold on the intermediate activations")                             \
  X("k", "count", "ffn", "neurons (or experts) kept per token")                                                       \
  X("tau", "ratio", "ffn", "MoE dyn-k: the tau of the routing rule that ran")                                        \
  /* FLOPs and bytes */                                                                                               \
  X("flops", "flop", "ffn", "analytical FLOPs of one method call, selection included")                               \
  X("flops_dense", "flop", "ffn", "analytical FLOPs of one dense call")                                              \
  X("flops_select", "flop", "ffn", "analytical FLOPs of the selection alone (gate, router or predictor)")             \
  X("flop_ratio", "ratio", "ffn", "flops / flops_dense")                                                              \
  X("weight_bytes", "byte", "ffn", "weight bytes one method call reads")                                             \
  X("weight_bytes_dense", "byte", "ffn", "weight bytes one dense call reads")                                        \
  X("ffn_flops_per_token", "flop", "model", "FFN FLOPs per token with the method, selection included")                \
  X("ffn_flops_dense_per_token", "flop", "model", "FFN FLOPs per token of the dense model")                          \
  X("ffn_select_flops_per_token", "flop", "model", "FLOPs per token of the method's selection")                      \
  X("ffn_flops_saved", "fraction", "model attribution", "1 - FFN FLOPs with the method / dense FFN FLOPs")            \
  X("attn_flops_saved_per_token", "flop", "model", "teal: attention projection FLOPs per token saved by zeroed inputs") \
  X("model_flops_per_token", "flop", "model", "whole-model FLOPs per token with the method (attention at half the mean window)") \
  X("model_flops_dense_per_token", "flop", "model", "whole-model FLOPs per token of the dense model")                 \
  X("model_flops_saved", "fraction", "model attribution", "1 - model FLOPs with the method / dense model FLOPs")       \
  /* accuracy */                                                                                                     \
  X("rel_error", "ratio", "ffn", "mean over checked tokens of ||y - y_ref|| / ||y_ref||, y_ref the float64 dense output") \
  X("rel_error_dense", "ratio", "ffn", "the same error of the f32 dense kernel (the floor)")                          \
  X("ppl", "ppl", "model attribution", "perplexity on the evaluation span: exp of the mean next-token NLL")           \
  X("ppl_se", "ppl", "model attribution", "standard error of ppl across evaluation windows")                         \
  X("nll", "nat/token", "model attribution", "mean next-token negative log-likelihood")                              \
  X("nll_se", "nat/token", "model attribution", "standard error of nll across evaluation windows")                   \
  X("bits_per_byte", "bit/byte", "model attribution", "total NLL in bits divided by the evaluation span's UTF-8 bytes") \
  X("kl", "nat/token", "model attribution", "mean KL(dense || method) of the next-token distributions, paired positions") \
  X("kl_se", "nat/token", "model attribution", "standard error of kl over positions")                                \
  X("top1_agree", "fraction", "model attribution", "fraction of positions where the method's top token is the dense model's") \
  X("ppl_dense", "ppl", "model attribution", "perplexity of the dense model on the same span and weights")             \
  X("ppl_dense_se", "ppl", "model attribution", "standard error of ppl_dense")                                        \
  X("bits_per_byte_dense", "bit/byte", "model", "bits per byte of the dense model")                                  \
  X("ppl_ratio", "ratio", "model attribution", "ppl / ppl_dense")                                                    \
  X("ppl_native_dense", "ppl", "model", "weights native: perplexity of the native dense model")                       \
  X("ppl_native_dense_se", "ppl", "model", "standard error of ppl_native_dense")                                      \
  X("ppl_f32_dense", "ppl", "model", "weights native: perplexity of the f32 dense model (the accuracy reference) on the same span") \
  X("ppl_f32_dense_se", "ppl", "model", "standard error of ppl_f32_dense")                                            \
  X("kl_native_dense", "nat/token", "model", "weights native: KL(f32 dense || native dense), the cost of 8-bit activation blocks") \
  X("top1_native_dense", "fraction", "model", "weights native: top-1 agreement of native dense with f32 dense")         \
  X("f32_ref_cpu_s", "s", "model", "weights native: CPU seconds of the f32 dense pass over the evaluation tokens (part of prepare_cpu_s; repeated on trials sharing it)") \
  X("native_ref_cpu_s", "s", "model", "weights native: CPU seconds of the native dense pass over the evaluation tokens (as f32_ref_cpu_s)") \
  /* spans, calibration, bookkeeping */                                                                             \
  X("eval_windows", "count", "model attribution", "evaluation windows scored")                                        \
  X("eval_scored_tokens", "count", "model", "next-token predictions scored")                                          \
  X("eval_seconds", "s", "model", "wall time of the quality evaluation")                                              \
  X("eval_paired", "bool", "model", "1 when the dense reference did not fit ref_mb and each window ran dense then method") \
  X("calib_byte_start", "byte", "model attribution", "start of the calibration span in the text file")               \
  X("calib_byte_end", "byte", "model attribution", "end (exclusive) of the calibration span")                        \
  X("eval_byte_start", "byte", "model attribution", "start of the evaluation span in the text file")                 \
  X("eval_byte_end", "byte", "model attribution", "end (exclusive) of the evaluation span")                          \
  X("calib_tokens", "count", "model", "tokens in the calibration span")                                               \
  X("eval_tokens", "count", "model", "tokens in the evaluation span")                                                 \
  X("calib_cached", "bool", "model", "1 when the method's calibration came from the on-disk cache")                   \
  X("calib_seconds", "s", "model", "wall time of the method's calibration")                                          \
  X("model_changed", "bool", "model", "1 when the activation function was replaced (not the model's own SiLU)")      \
  X("moe_clustering", "*", "model", "MoE methods: how neurons were grouped into experts: value 0 balanced_kmeans, 1 random, 2 contiguous, 3 coactivation; the unit names it") \
  X("moe_router", "*", "model", "MoE methods: the router: value 0 oracle, 1 mlp, 2 classifier, 3 ground_truth, 4 similarity, 5 moefication, 6 lte; the unit names it") \
  X("moe_selection", "*", "model", "MoE methods: the expert selection rule: value 0 topk, 1 dynk_max, 2 dynk_cum, 3 score; the unit names it") \
  X("moe_experts", "count", "model", "MoE methods: experts per FFN layer") \
  X("router_epochs", "count", "model", "MoE methods: router training epochs used (0 for an untrained router)") \
  X("router_lr", "lr", "model", "MoE methods: router learning rate used (0 for an untrained router)") \
  X("router_batch", "count", "model", "MoE methods: router training batch in tokens (0 for an untrained router)") \
  X("router_val_split", "fraction", "model", "MoE methods: held-out fraction of the calibration tokens for router quality and best-epoch choice") \
  X("router_recall", "fraction", "model", "MoE methods: |predicted and true experts| / |true experts| on held-out tokens, mean over sparsified layers (true: the same selection rule on the exact scores the router imitates)") \
  X("router_precision", "fraction", "model", "MoE methods: |predicted and true experts| / |predicted experts| on held-out tokens, mean over sparsified layers") \
  X("router_density", "fraction", "model", "MoE methods: predicted experts / experts on held-out tokens, mean over sparsified layers") \
  X("router_recall_layer_*", "fraction", "model", "router_recall of one layer (layer number in the name)") \
  X("router_precision_layer_*", "fraction", "model", "router_precision of one layer (layer number in the name)") \
  X("router_density_layer_*", "fraction", "model", "router_density of one layer (layer number in the name)") \
  X("router_mass_captured", "fraction", "model", "MoE methods: share of the positive activation mass held by the top 20 % of experts the router picks, held-out tokens") \
  X("router_best_epoch", "epoch", "model", "MoE methods: mean over layers of the training epoch kept (best held-out score)") \
  X("task_acc", "fraction", "model attribution", "multiple-choice task: fraction of items whose gold choice has the highest summed log-probability, with the method") \
  X("task_acc_se", "fraction", "model attribution", "standard error of task_acc (binomial, over items)") \
  X("task_acc_norm", "fraction", "model attribution", "multiple-choice task: accuracy with each choice's log-probability divided by its length in bytes, with the method") \
  X("task_acc_norm_se", "fraction", "model attribution", "standard error of task_acc_norm") \
  X("task_acc_dense", "fraction", "model attribution", "task_acc of the dense model on the same items") \
  X("task_acc_dense_se", "fraction", "model attribution", "standard error of task_acc_dense") \
  X("task_acc_norm_dense", "fraction", "model attribution", "task_acc_norm of the dense model on the same items") \
  X("task_acc_norm_dense_se", "fraction", "model attribution", "standard error of task_acc_norm_dense") \
  X("task_acc_diff", "fraction", "model attribution", "task_acc - task_acc_dense, paired on the same items") \
  X("task_acc_diff_se", "fraction", "model attribution", "paired standard error of task_acc_diff") \
  X("task_acc_mcnemar_p", "p-value", "model attribution", "exact McNemar test of method vs dense correctness per item (acc)") \
  X("task_acc_only_method", "count", "model attribution", "items only the method gets right (acc)") \
  X("task_acc_only_dense", "count", "model attribution", "items only the dense model gets right (acc)") \
  X("task_acc_norm_diff", "fraction", "model attribution", "task_acc_norm - task_acc_norm_dense, paired on the same items") \
  X("task_acc_norm_diff_se", "fraction", "model attribution", "paired standard error of task_acc_norm_diff") \
  X("task_acc_norm_mcnemar_p", "p-value", "model attribution", "exact McNemar test of method vs dense correctness per item (acc_norm)") \
  X("task_acc_norm_only_method", "count", "model attribution", "items only the method gets right (acc_norm)") \
  X("task_acc_norm_only_dense", "count", "model attribution", "items only the dense model gets right (acc_norm)") \
  X("task_chance", "fraction", "model attribution", "mean over items of 1 / number of choices") \
  X("task_items", "count", "model attribution", "multiple-choice items scored") \
  X("task_sha256", "*", "model attribution", "value: the first 48 bits of the task file's SHA-256 (cloze: of its generated items); the unit is the full hex digest") \
  X("task_span_start", "byte", "model attribution", "cloze: start of the text span the items were built from (0 for a file)") \
  X("task_span_end", "byte", "model attribution", "cloze: end (exclusive) of that span (0 for a file)") \
  X("task_bos", "id", "model attribution", "the BOS token id prepended to every scored context and choice (the model's tokenizer expects one: GGUF tokenizer.ggml.add_bos_token, HF tokenizer_config.json / post-processor), or -1 for none") \
  X("task_seconds", "s", "model attribution", "wall time of scoring the method on the task") \
  X("predictor_*_layer_*", "fraction", "model", "dejavu, powerinfer: predictor_recall, _precision or _density of one layer on the evaluation tokens (layer number in the name)") \
  X("true_density_layer_*", "fraction", "model", "dejavu, powerinfer: true_density of one layer") \
  X("predictor_best_epoch", "epoch", "model", "dejavu, powerinfer: mean over layers of the training epoch kept (best held-out recall; NAN-free layers only, absent when restored from the calibration cache)") \
  X("predictor_epochs_run", "epoch", "model", "dejavu, powerinfer: mean over layers of the epochs trained before early stopping ended training (absent when restored from the calibration cache)") \
  X("predictor_lookahead", "bool", "model", "dejavu, powerinfer: 1 when layer l's predictor read layer l-1's FFN input (predictor_input: previous)") \
  X("predictor_logit_threshold", "logit", "model", "powerinfer: a neuron ran iff its predicted logit was at least this") \
  X("method_version", "count", "model", "definition version of the method (common/sw_methods.h); it enters the config hash when above 1") \
  X("activation_model", "*", "model", "the activation the model file defines: value the sw_act_t code, unit its name (kernels/sw_act.h)") \
  X("activation_run", "*", "model", "the activation the trial ran: value the sw_act_t code, unit its name") \
  X("dense_reference_activation", "*", "model", "the activation of the dense model every quality number is compared with (the file's own)") \
  X("cache_flushed", "bool", "model", "1 when every timed prefill and decode step started with cold caches (cache: cold): flushed before it, or evicted by the previous step's own weight reads (cache_flush_bytes 0)") \
  X("cache_flush_bytes", "byte", "model", "bytes read to flush the caches before each timed step; 0 when a step's weights (model_weight_bytes) exceed the flush buffer, so each step evicts the cache itself") \
  X("llc_bytes", "byte", "model", "last-level cache size the cache flush and the warm check used (0 when unknown)") \
  X("model_weight_bytes", "byte", "model", "weight bytes one decode step reads (all projections, the FFNs and the output layer)") \
  X("ffn_weight_bytes_per_call", "byte", "model", "FFN weight bytes one forward call reads with the method, summed over layers (each row counted once per call)") \
  X("ffn_weight_bytes_dense_per_call", "byte", "model", "FFN weight bytes one dense forward call reads, summed over layers") \
  X("decode_ffn_weight_bytes_dense", "byte", "model", "FFN weight bytes one dense decode step reads") \
  X("decode_ffn_weight_bytes_sparse", "byte", "model", "FFN weight bytes one decode step reads with the method") \
  X("chess_attention", "bool", "model", "chess: 1 when the q_proj and o_proj inputs were thresholded too (the paper's CHESS w/)") \
  X("chess_sparsity_q_in", "fraction", "model", "chess: fraction of zeroed q_proj inputs (0 without chess_attention)") \
  X("chess_sparsity_o_in", "fraction", "model", "chess: fraction of zeroed o_proj inputs (0 without chess_attention)") \
  X("teal_threshold_signed_cdf", "bool", "model", "teal: 1 when thresholds follow F^-1(0.5 + s/2) of the signed values (teal_threshold: signed_cdf), 0 for the s-quantile of |x|") \
  X("teal_sparsity_qkv_in", "fraction", "model", "teal: zeroed fraction of the q/k/v input, mean over layers") \
  X("teal_sparsity_o_in", "fraction", "model", "teal: zeroed fraction of the o_proj input, mean over layers") \
  X("teal_sparsity_ffn_in", "fraction", "model", "teal: zeroed fraction of the gate/up input, mean over layers") \
  X("teal_sparsity_down_in", "fraction", "model", "teal: zeroed fraction of the down-projection input, mean over layers") \
  X("model_hf", "bool", "model", "1 when the model is a Hugging Face checkpoint directory, 0 for a GGUF file") \
  X("model_sha256", "*", "model", "value 0; the unit is the hex SHA-256 of the GGUF file, or of `sha256sum config.json <shards>` run in a checkpoint directory") \
  X("weights_native", "bool", "model", "1 when the model ran on the GGUF file's quantised blocks")                   \
  X("timing_weight_sparse", "bool", "model", "1 when the timed decode used the weight-sparse FFN kernels")            \
  X("weight_sparsity", "fraction", "model", "the requested fraction of linear-layer weights pruned")                   \
  X("weight_sparsity_achieved", "fraction", "model", "the fraction of linear-layer weights that are zero after pruning") \
  X("prune_seconds", "s", "model", "wall time of the pruning")                                                        \
  X("n_calib", "count", "ffn", "calibration tokens of the MoE/predictor methods")                                    \
  X("calib_overlap", "bool", "ffn", "1 when calibration and evaluation tokens are the same")                         \
  /* MoE and predictor */                                                                                             \
  X("n_experts", "count", "ffn", "experts the FFN was split into")                                                    \
  X("expert_size", "count", "ffn", "neurons per expert")                                                              \
  X("build_time", "s", "ffn", "time to cluster neurons into experts")                                                 \
  X("train_time", "s", "ffn", "time to train the router or predictor")                                                \
  X("router_loss_first", "loss", "ffn", "router training loss after the first epoch")                                  \
  X("router_loss_final", "loss", "ffn", "router training loss after the last epoch")                                  \
  X("rank", "count", "ffn", "predictor rank")                                                                         \
  X("predictor_recall", "fraction", "ffn model", "fraction of truly active neurons the predictor selects")                  \
  X("predictor_precision", "fraction", "ffn model", "fraction of selected neurons that are truly active")                   \
  X("predictor_density", "fraction", "ffn model", "fraction of neurons the predictor selects")                              \
  X("true_density", "fraction", "ffn model", "fraction of neurons truly active (|h| above label_thr)")                      \
  /* attribution */                                                                                                   \
  X("grad_seconds_per_window", "s", "attribution", "mean time of one forward + backward pass over a window")          \
  X("forward_seconds_per_window", "s", "attribution", "mean time of one forward pass over a window")                 \
  X("grad_mib_per_token", "MiB", "attribution", "activation memory the backward pass keeps per token")               \
  X("task_oracle_seconds_per_item", "s", "attribution", "oracle protocol: mean time of the forward + backward pass over one task item's context (once per executor)") \
  /* modularity (per text and per pair of texts; names carry the texts) */                                          \
  X("iou_*", "fraction", "modularity", "IoU of two texts' top neuron sets (mean over layers, its standard error with _se, or one layer with _lNN)") \
  X("iou_random", "fraction", "modularity", "expected IoU of two random sets of the same size")                      \
  X("cluster_spec*", "fraction", "modularity", "specialisation of co-activation clusters (per layer with _lNN; random and uniform controls; _se standard error)") \
  X("nll_dense_*", "nat/token", "modularity", "dense NLL on the named text's test windows")                          \
  X("specific_neurons_*", "count", "modularity", "neurons per layer in the named text's top set and in no other's")  \
  X("ablate_*", "nat/token", "modularity", "change of NLL on a text when another text's specific (or random) neurons are ablated; _se its standard error") \
  X("subset_*_byte_*", "byte", "modularity", "start or end of a text's span in its file")                            \
  /* test workload */                                                                                                 \
  X("value", "count", "test", "the configured value")                                                                 \
  X("pid", "id", "test", "process id of the trial")                                                                   \
  X("cache_created_ns", "ns", "test", "creation time of the executor cache entry")                                   \
  X("cache_created_pid", "id", "test", "process that created the cache entry")                                       \
  X("allocated", "MiB", "test", "memory allocated before the allocation failed")                                    \
  X("open_fds", "count", "test", "descriptors the trial holds")                                                       \
  X("max_fd", "id", "test", "highest descriptor number the trial holds")                                             \
  X("grandchild_pid", "id", "test", "process id of the grandchild left behind")                                       \
  X("slowdown_knob", "ratio", "test", "the planted slowdown of the sparse loop (SW_TEST_SLOWDOWN)")                   \
  X("noop", "count", "noop", "1: the trial ran")

typedef struct sw_metric_def {
  const char *name;       /* exact name, or a pattern with '*' */
  const char *unit;
  const char *workloads;  /* space-separated */
  const char *definition; /* one sentence */
} sw_metric_def_t;

/* The declaration of a metric name (exact match first, then the first matching pattern), or NULL. */
const sw_metric_def_t *sw_metric_find(const char *name);

/* Every declaration: defs[i] for i < count. */
size_t sw_metrics_all(const sw_metric_def_t **defs);

/* 1 when name is declared with this unit (any unit for "*"), and not legacy-only. */
int sw_metric_ok(const char *name, const char *unit);

#endif
