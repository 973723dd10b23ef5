/* sw_keys_table: the declared keys of every workload (experiments/sw_keys.h).  A runner reads a key only through
 * these rows (workers/sw_trial_*.c), `plan` checks files against them, `sparsweep workloads` prints them.  A
 * default here is the runner's default: change it and every trial that relies on it measures something else
 * under the same config hash (configs record only the keys a file writes, plus the measure defaults).  To change
 * a default, keep the former one as the row's legacy default (sw_keydef_t.legacy_def): the expander then records
 * the new default in every trial config that does not write the key, and the config hash omits the key when it
 * holds the legacy default, so trials recorded under the former default keep their hash only where a file now
 * writes that value (experiments/sw_grid.c; experiments/README.md, "Trial identity"). */
#include <stddef.h>

#include "experiments/sw_keys.h"
#include "experiments/sw_keys_int.h"

#define BIG 9007199254740992.0 /* 2^53: "no upper bound" for integers */

/* Row builders: identity keys with a closed range; the few others are written out. */
#define KI(n, d, lo, hi, unit, help) {n, SW_KT_INT, d, lo, hi, 0, 0, NULL, unit, help, 1, NULL}
#define KN(n, d, lo, hi, unit, help) {n, SW_KT_NUM, d, lo, hi, 0, 0, NULL, unit, help, 1, NULL}
#define KE(n, d, allowed, help) {n, SW_KT_ENUM, d, 0, 0, 0, 0, allowed, "", help, 1, NULL}
#define KS(n, d, help) {n, SW_KT_STR, d, 0, 0, 0, 0, NULL, "", help, 1, NULL}

#define ISA_WORDS "auto|portable|avx2|avx512"
/* kernels/sw_act.c: plain and gated (GLU) names */
#define ACT_WORDS "identity|relu|gelu|gelu_erf|gelu_tanh|silu|relu2|fatrelu|reglu|geglu|geglu_tanh|swiglu|relu2glu"

/* Measurement keys, shared by every workload.  The defaults with a value are recorded in every trial's
 * config by experiments/sw_expfile.c (so the hash covers them); kernel_isa, exclusive and quiet have none
 * and are recorded only when written, which kept the hashes of files written before they existed. */
static const sw_keydef_t measure_keys[] = {
    KI("warmup", "2", 0, 1000000, "repetitions", "untimed repetitions before the timed ones"),
    KI("repetitions", "7", 1, 1000, "repetitions", "timed repetitions (dense and method interleaved)"),
    {"batch", SW_KT_INTS, "1", 1, 4096, 0, 0, NULL, "tokens", "tokens per call (ffn workload)", 1, NULL},
    KI("threads", "1", 1, 64, "threads", "OpenBLAS / kernel threads of the timed calls"),
    {"papi_events", SW_KT_STRS, "default", 0, 0, 0, 0, NULL, "",
     "default (PAPI presets + the kernels' SDE events), one PAPI event name or a list of them", 1, NULL},
    KE("cache", "cold", "cold|warm", "cold: every call reads the next of several weight copies; warm: one copy"),
    KE("kernel_isa", NULL, ISA_WORDS, "SIMD variant of the kernels (absent: SPARSWEEP_KERNEL_ISA or the best)"),
    {"exclusive", SW_KT_ENUM, NULL, 0, 0, 0, 0, "node|socket|none", "",
     "timed phases that may run at once per host (absent: node; workers/sw_slot.h)", 0, NULL},
    {"quiet", SW_KT_BOOL, NULL, 0, 0, 0, 0, NULL, "",
     "untimed work pauses while another trial of the host times (absent: true; workers/sw_slot.h)", 0, NULL},
};

/* Keys no runner reads: they only tell trials apart (replicas, named cases of one file). */
static const sw_keydef_t label_keys[] = {
    KI("replica", NULL, -BIG, BIG, "", "label: replica number of a repeated trial (not read by any runner)"),
    KS("case", NULL, "label: name of a case of the experiment (not read by any runner)"),
};

/* workers/sw_trial_ffn.c */
static const sw_keydef_t ffn_keys[] = {
    KI("d_model", "576", 1, 65536, "", "FFN model width (SmolLM2-135M: 576, Llama-7B: 4096)"),
    KI("d_ff", "1536", 1, 262144, "", "FFN intermediate width (SmolLM2-135M: 1536, Llama-7B: 11008)"),
    KI("gated", "1", 0, 1, "", "1: gate/up/down (SwiGLU family), 0: plain W1/W2; a gated activation name forces 1"),
    KE("activation", "silu", ACT_WORDS, "activation function (kernels/sw_act.h)"),
    KE("dtype", "f32", "f32|bf16", "weight type"),
    KE("method", "threshold",
       "dense|topk|threshold|cats|chess|cett|random|teal|moe_topk|moe_dynk_max|d2dmoe|moe_dynk_cum|moe_lte|lte|predictor|dejavu",
       "sparsity method; aliases name one method (common/sw_methods.h: cats = threshold, d2dmoe = moe_dynk_max, "
       "lte = moe_lte, dejavu = predictor)"),
    KN("sparsity", "0.5", 0, 1, "fraction", "target sparsity s (MoE methods: fraction of experts skipped)"),
    KN("tau", "0.1", 0, 1.5, "", "cett: target tail-truncation error; MoE dyn-k: tau (absent: 0.5, moe_dynk_cum 0.9)"),
    KE("timing", "full", "full|kernel", "full: selection timed too; kernel: mask computed once, only the kernel"),
    KI("n_calib", "64", 1, 1048576, "tokens", "calibration tokens (disjoint from the evaluation tokens)"),
    KI("seed", "1", 0, BIG, "", "seed of the weights and inputs"),
    KI("cold_mib", "256", 1, 1048576, "MiB", "cache cold: the weight copies span this many MiB"),
    KI("error_tokens", "4", 0, 1048576, "tokens", "tokens checked against the float64 dense reference"),
    KN("act_param", "0", 0, 1e6, "", "FATReLU's threshold (activation fatrelu only)"),
    KE("teal_threshold", "abs_quantile", "abs_quantile|signed_cdf",
       "teal: the s-quantile of |x|, or F^-1(0.5 + s/2) of the signed values (TEAL's code)"),
};

/* workers/sw_trial_moe.c: MoE conversion and the Deja Vu predictor inside the ffn workload. */
static const sw_keydef_t moe_keys[] = {
    KI("experts", NULL, 1, 1048576, "", "experts (default d_ff/32; must divide d_ff)"),
    KI("k", NULL, 0, 1048576, "", "experts run per token (default round((1-sparsity)*experts), else experts/4); "
                                  "predictor: neurons kept (0: by threshold)"),
    KN("tau", NULL, 0, 1.5, "", "dyn-k tau (default 0.5; moe_dynk_cum 0.9)"),
    KE("router", NULL, "oracle|mlp|classifier|lte", "router (default mlp; moe_lte: lte, LTE's own router)"),
    KE("clustering", "balanced_kmeans", "balanced_kmeans|random|contiguous", "how neurons are grouped into experts"),
    KI("router_epochs", "20", 0, 100000, "epochs", "router training epochs"),
    KI("router_hidden", "128", 1, 65536, "", "hidden width of the MLP router"),
    KI("kmeans_iters", "30", 1, 10000, "iterations", "balanced k-means iterations"),
    KN("router_lr", "0.001", 0, 1000, "", "router learning rate"),
    KN("eta", "0.5", 0, 100, "", "moe_lte: weight of LTE's efficiency loss (higher is sparser)"),
    KI("rank", "64", 1, 65536, "", "predictor: rank of the low-rank predictor"),
    KN("threshold", "0.5", -BIG, BIG, "", "predictor: probability above which a neuron is predicted active"),
    KN("label_thr", "0", -BIG, BIG, "", "predictor: |h| above which a neuron counts as active in training"),
    KN("sparsity", NULL, 0, 1, "fraction", "fraction of experts skipped (sets the default k)"),
    KI("n_calib", "1024", 1, 1048576, "tokens", "standalone MoE runner (tests): calibration tokens"),
    KE("activation", "swiglu", ACT_WORDS, "standalone MoE runner (tests): activation"),
    KI("seed", "1", 0, BIG, "", "seed of the weights, inputs and training"),
};

/* workers/sw_trial_model.c (also read by the attribution and modularity workloads) */
static const sw_keydef_t model_keys[] = {
    KS("model", NULL, "GGUF file or Hugging Face checkpoint directory (default <cache>/models/SmolLM2-135M-Instruct.Q4_1.gguf)"),
    KS("text", NULL, "UTF-8 text file (default <cache>/text/austen.txt)"),
    KE("method", "dense",
     "dense|topk|cats|threshold|chess|cett|random|teal|d2dmoe|moe_dynk_max|moefication|lte|dejavu|predictor|powerinfer",
     "sparsity method in the FFN layers; aliases name one method (common/sw_methods.h)"),
    KN("sparsity", "0.5", 0, 1, "fraction", "target sparsity s (moefication: fraction of experts skipped)"),
    KN("tau", "0.1", 0, 1.5, "", "cett: target CETT; d2dmoe: tau of dyn-k max"),
    KE("activation", "model", "model|silu|relu|relu2|fatrelu|identity|gelu|gelu_erf|gelu_tanh",
       "model: the file's own activation; another name replaces it (a changed model, compared with the file's dense "
       "model); the FFN stays gated"),
    KN("act_param", "0", -BIG, BIG, "", "FATReLU threshold"),
    KS("layers", "all", "\"all\" or a list of layers \"0,2,5-9\"; other layers run dense"),
    /* the default was f32 until native decode was built (legacy default: see the header of this file) */
    {"weights", SW_KT_ENUM, "native", 0, 0, 0, 0, "f32|native", "",
     "native: the file's quantised blocks (latency); f32: dequantised weights (the accuracy reference)", 1, "f32"},
    KI("calib_tokens", "1024", 2, 1048576, "tokens", "calibration span (at least one window)"),
    KI("eval_tokens", "2048", 2, 1048576, "tokens", "evaluation span (at least one window)"),
    KI("window", "128", 2, 4096, "tokens", "evaluation window"),
    KI("calib_offset", "0", 0, BIG, "bytes", "start of the calibration span in the text"),
    KI("eval_offset", "-1", -1, BIG, "bytes", "start of the evaluation span (-1: first line at or after the middle)"),
    KI("experts", "0", 0, 1048576, "", "d2dmoe/moefication experts (0: d_ff/32)"),
    KI("rank", "64", 1, 65536, "", "dejavu predictor rank; powerinfer predictor hidden size"),
    KI("epochs", "20", 0, 100000, "epochs", "dejavu/powerinfer predictor training epochs at most (Deja Vu: 20; "
                                            "early stopping may end sooner; routers: router_epochs)"),
    KE("predictor_input", "current", "current|previous",
       "dejavu/powerinfer: the predictor of layer l reads layer l's FFN input, or layer l-1's (Deja Vu's lookahead; "
       "layer 0 reads its own)"),
    KN("predictor_lr", "0.001", 0, 10, "", "dejavu/powerinfer predictor AdamW learning rate (Deja Vu: 1e-3)"),
    KN("predictor_weight_decay", "0.01", 0, 10, "", "dejavu/powerinfer predictor AdamW weight decay (Deja Vu: 0.01)"),
    KI("predictor_batch", "64", 1, 1048576, "tokens",
       "dejavu/powerinfer predictor batch (Deja Vu: 1024 on 400k tokens; 64 on the ~1k calibration tokens here)"),
    {"predictor_val_split", SW_KT_NUM, "0.05", 0, 1, 0, 1, NULL, "fraction",
     "dejavu/powerinfer: held-out fraction of the calibration tokens for best-epoch choice and early stopping "
     "(Deja Vu: 0.05; 0: train on all, keep the last epoch)", 1, NULL},
    KI("predictor_patience", "5", 0, 100000, "epochs",
       "dejavu/powerinfer: stop after this many epochs without a better held-out recall (Deja Vu: 5; 0: off)"),
    KN("predictor_stop_recall", "0.99", 0, 1, "fraction",
       "dejavu/powerinfer: stop once the held-out recall reaches this (Deja Vu: 0.99; 0: off)"),
    KN("predictor_threshold", "0", -100, 100, "logit",
       "powerinfer: a neuron runs iff its predicted logit >= this (PowerInfer's default 0)"),
    KE("router", NULL, "oracle|mlp|classifier|ground_truth|similarity|moefication|lte",
       "d2dmoe/moefication/lte router (default: d2dmoe mlp, moefication moefication, lte lte)"),
    KE("clustering", NULL, "balanced_kmeans|coactivation|random|contiguous",
       "how neurons are grouped into experts (default balanced_kmeans)"),
    KE("selection", NULL, "topk|dynk_max|dynk_cum|score",
       "expert selection (default: d2dmoe dynk_max, moefication topk, lte score; score only with lte)"),
    KI("router_epochs", "0", 0, 10000, "epochs", "router training epochs (0: the paper's, moefication 30, others 10)"),
    KN("router_lr", "0", 0, 10, "", "router learning rate (0: the paper's, moefication 1e-2, others 1e-3)"),
    KI("router_batch", "0", 0, 1048576, "tokens", "router training batch (0: the paper's, moefication 512, others 64)"),
    {"router_val_split", SW_KT_NUM, "0.1", 0, 1, 0, 1, NULL, "fraction",
     "held-out fraction of the calibration tokens (router quality, best epoch)", 1, NULL},
    KN("eta", "0.5", 0, 100, "", "lte: weight of the efficiency loss (higher is sparser)"),
    KE("teal_threshold", "abs_quantile", "abs_quantile|signed_cdf",
       "teal: the s-quantile of |x|, or F^-1(0.5 + s/2) of the signed values (TEAL's code)"),
    KI("chess_attention", "1", 0, 1, "", "chess: 1 also thresholds the q_proj and o_proj inputs per layer (the paper's), "
                                         "0 the FFN channels only"),
    KE("teal_alloc", "uniform", "uniform|greedy",
       "teal: uniform sparsity per input, or greedy block-wise allocation (models/sw_teal_alloc.h)"),
    KS("task", "", "multiple-choice task: empty (none), cloze (built from the text) or a JSONL file (models/sw_mctask.h)"),
    KI("task_items", "0", 0, 100000, "items", "items scored (0: the whole file; cloze 200)"),
    KI("task_offset", "-1", -1, BIG, "bytes", "cloze: start of its span (-1: first line at or after 3/4 of the text)"),
    KI("task_bytes", "400000", 1024, 2147483648.0, "bytes", "cloze: size of its span"),
    KI("task_choices", "4", 2, 32, "", "cloze: choices per item"),
    KI("task_context_bytes", "384", 16, 32768, "bytes", "cloze: context length"),
    KI("task_seed", "1", 0, BIG, "", "cloze: seed of the distractor draw"),
    KI("task_ctx", "512", 16, 8192, "tokens", "longest scored sequence (longer contexts lose their start)"),
    KI("seed", "1", 0, BIG, "", "seed of calibration, training and random selection"),
    KI("prompt_tokens", "32", 1, 1048576, "tokens", "prompt of the timed decode"),
    KI("decode_tokens", "16", 1, 256, "tokens", "timed decode steps"),
    KI("repetitions", "7", 1, 100, "repetitions",
       "timed repetitions (dense and method interleaved); the least the adaptive rule runs"),
    KI("max_repetitions", "0", 0, 100, "repetitions",
       "adaptive repetitions: at most this many (0: 3 x repetitions, or repetitions when below 6; "
       "= repetitions: fixed count; docs/measurement.md)"),
    {"ci_target", SW_KT_NUM, "0.10", 0, 1, 1, 0, NULL, "fraction",
     "adaptive repetitions stop once every timed median and paired speedup has a 95% interval half-width "
     "<= this fraction of it", 1, NULL},
    KN("timing_budget_s", "120", 0, BIG, "s",
       "adaptive repetitions: none is added once the timed repetitions would exceed this wall time (0: no budget)"),
    KI("threads", "1", 1, 256, "threads", "OpenBLAS threads"),
    {"ref_mb", SW_KT_INT, "2048", 0, BIG, 0, 0, NULL, "MiB",
     "dense reference kept in memory up to this size, else each window runs dense then method", 0, NULL},
};

/* workers/sw_trial_prune.c (model workload) */
static const sw_keydef_t prune_keys[] = {
    {"weight_sparsity", SW_KT_NUM, "0", 0, 1, 0, 1, NULL, "fraction", "fraction of every linear layer's weights pruned",
     1, NULL},
    KE("prune", "magnitude", "magnitude|wanda|sparsegpt", "pruning criterion"),
    KE("prune_pattern", "unstructured", "unstructured|2:4", "unstructured, or 2 of every 4 weights (50 %)"),
};

/* workers/sw_trial_attrib.c */
static const sw_keydef_t attribution_keys[] = {
    KE("metric", "gxo", "magnitude|grad|gxo|cor_gxo", "attribution score (models/sw_attrib.h)"),
    KE("protocol", "oracle", "oracle|calibrated", "oracle: each window's own scores; calibrated: calibration mean"),
    KE("scope", "both", "both|ffn|heads", "what is deactivated"),
    KN("activation_ratio", "0.5", 0, 1, "fraction", "fraction r of neurons / heads kept active"),
    KE("weights", "f32", "f32", "f32 only: scores need gradients of the dequantised weights (models/sw_llama_grad.h)"),
};

/* workers/sw_trial_modularity.c */
static const sw_keydef_t modularity_keys[] = {
    KS("subsets", NULL, "required: name=path[@offset];... (at least 2 texts)"),
    KI("tokens", "512", 12, 1048576, "tokens", "tokens per text (3 to 64 windows)"),
    KI("window", "64", 4, 1024, "tokens", "window of the profiles and ablations"),
    KI("clusters", "16", 2, 1048576, "", "co-activation clusters"),
    KI("stride", "4", 1, 1048576, "", "window stride of the co-activation features"),
    KI("seed", "1", -BIG, BIG, "", "seed of clustering and random controls"),
    {"top_frac", SW_KT_NUM, "0.1", 0, 1, 1, 1, NULL, "fraction", "fraction of neurons in a text's top set", 1, NULL},
    KI("threads", "1", 1, 256, "threads", "OpenBLAS threads"),
    KE("weights", "f32", "f32", "f32 only: profiles and ablations run the dequantised weights"),
};

/* workers/sw_trial_test.c */
static const sw_keydef_t test_keys[] = {
    KE("action", "ok", "ok|segv|abort|exit|hang|oom|sleep|stream|fds|grandchild", "what the test trial does"),
    KN("value", "42", -BIG, BIG, "", "ok/sleep: the value reported"),
    KI("samples", "3", 0, 1000000, "", "ok/sleep: samples of 1 ms, 2 ms, ..."),
    KI("sleep_ms", "0", 0, BIG, "ms", "ok/sleep/stream: sleep first"),
    KI("exit_code", "1", -BIG, BIG, "", "exit: the status"),
    KI("oom_mb", "0", 0, BIG, "MiB", "oom: allocation bound (0: none)"),
    {"ignore_term", SW_KT_BOOL, "false", 0, 0, 0, 0, NULL, "", "hang: ignore SIGTERM", 1, NULL},
    KS("stderr_text", NULL, "written to stderr first"),
    KS("pid_file", NULL, "the child writes its pid there first (grandchild: required)"),
    KS("cache_key", NULL, "prepare stores its creation time under this key"),
    KI("prepare_sleep_ms", "0", 0, BIG, "ms", "prepare stalls the executor this long"),
    KI("stream_kib", "4096", 1, 4194304, "KiB", "stream: buffer summed by dense"),
    {"fraction", SW_KT_NUM, "0.5", 0, 1, 1, 0, NULL, "fraction", "stream: part of the buffer summed by sparse", 1, NULL},
    KI("repetitions", "7", 1, 100000, "repetitions", "timed repetitions"),
};

#define TABLE(t) {#t, t##_keys, sizeof t##_keys / sizeof t##_keys[0]}
const sw_keytable_t sw_keytables[] = {TABLE(measure), TABLE(label),      TABLE(ffn),  TABLE(moe), TABLE(model),
                                      TABLE(prune),   TABLE(attribution), TABLE(modularity), TABLE(test)};
const size_t        sw_n_keytables = sizeof sw_keytables / sizeof sw_keytables[0];

/* Which tables each workload accepts, first match deciding. */
const sw_workload_keys_t sw_workload_keys[] = {
    {"ffn", {"ffn", "moe", "measure", "label"}, 0},
    {"model", {"model", "prune", "measure", "label"}, 0},
    {"attribution", {"attribution", "model", "measure", "label"}, 0},
    {"modularity", {"modularity", "model", "measure", "label"}, 0},
    {"test", {"test", "measure", "label"}, 0},
    {"noop", {"measure", "label"}, 1},
};
const size_t sw_n_workload_keys = sizeof sw_workload_keys / sizeof sw_workload_keys[0];
