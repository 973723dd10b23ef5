/* libFuzzer target: the safetensors parser (models/sw_safetensors.c) on arbitrary bytes.  Must never crash,
 * leak or read out of bounds (ASan/UBSan); a parse either fails with a message or yields tensors whose data
 * lies inside the input, sorted by unique name, and whose f32 conversion stays in bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/sw_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tensor(const sw_st_t *st, const sw_st_tensor_t *t, const uint8_t *data, size_t size) {
  if (t->data < data || t->nbytes > size || (size_t)(t->data - data) > size - t->nbytes) abort();
  if (sw_st_find(st, t->name) != t) abort();
  if (t->n_elements > 0 && t->n_elements <= 4096) { /* convert: ASan checks the extent */
    float *out = malloc((size_t)t->n_elements * sizeof *out);
    sw_err_t err = {0};
    if (out && sw_st_to_f32(st, t, out, &err) != SW_OK && err.msg[0] == 0) abort();
    free(out);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sw_st_t *st = NULL;
  sw_err_t err = {0};
  if (sw_st_parse(data, size, &st, &err) != SW_OK) {
    if (err.msg[0] == 0) abort(); /* every failure must carry a message */
    return 0;
  }
  for (size_t i = 0; i < st->n_tensors; i++) {
    if (i > 0 && strcmp(st->tensors[i - 1].name, st->tensors[i].name) >= 0) abort();
    check_tensor(st, &st->tensors[i], data, size);
  }
  sw_st_close(st);
  return 0;
}
