/* libFuzzer entry point for common/sw_json: any input must parse or fail cleanly, never crash or leak.
 * ctest replays tests/fuzz/corpus/json through replay_main.c (label fuzz-regress). */
#include <stddef.h>
#include <stdint.h>

#include "common/sw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sw_json_t *v = NULL;
  sw_err_t err;
  if (sw_json_parse((const char *)data, size, &v, &err) == SW_OK) sw_json_free(v);
  return 0;
}
