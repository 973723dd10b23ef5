/* libFuzzer target: the GGUF parser and every metadata getter on arbitrary bytes.  Must never crash, leak
 * or read out of bounds (ASan/UBSan); a parse either fails with a message or yields tensors whose data
 * lies inside the input, which is checked here. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "models/sw_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sw_gguf_t *g = NULL;
  sw_err_t err = {0};
  if (sw_gguf_parse(data, size, &g, &err) != SW_OK) {
    if (err.msg[0] == 0) abort(); /* every failure must carry a message */
    return 0;
  }
  for (size_t i = 0; i < g->n_tensors; i++) {
    const sw_gguf_tensor_t *t = &g->tensors[i];
    if (t->data < data || t->nbytes > size || (size_t)(t->data - data) > size - t->nbytes) abort();
    if (t->nbytes > 0 && t->nbytes <= 4096) { /* touch the bytes: ASan checks the extent */
      volatile uint8_t sink = 0;
      for (size_t j = 0; j < t->nbytes; j++) sink ^= t->data[j];
      (void)sink;
    }
  }
  for (size_t i = 0; i < g->n_kv; i++) {
    const char *key = g->kv[i].key;
    int64_t iv;
    double dv;
    int bv;
    const char *s;
    const sw_gguf_str_t *arr;
    size_t n;
    int64_t ints[8];
    float floats[8];
    (void)sw_gguf_get_int(g, key, &iv, &err);
    (void)sw_gguf_get_float(g, key, &dv, &err);
    (void)sw_gguf_get_bool(g, key, &bv, &err);
    (void)sw_gguf_get_str(g, key, &s, &n, &err);
    if (sw_gguf_get_arr_str(g, key, &arr, &n, &err) == SW_OK && n > 0) {
      volatile char c = arr[n - 1].len ? arr[n - 1].ptr[arr[n - 1].len - 1] : 0;
      (void)c;
    }
    (void)sw_gguf_get_arr_int(g, key, ints, 8, &n, &err);
    (void)sw_gguf_get_arr_float(g, key, floats, 8, &n, &err);
  }
  sw_gguf_close(g);
  return 0;
}
