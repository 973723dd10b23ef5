/* libFuzzer entry point for models/sw_mctask's JSONL task parser: any input must parse or fail cleanly with a
 * file:line message, never crash or leak.  ctest replays tests/fuzz/corpus/mctask (label fuzz-regress). */
#include <stddef.h>
#include <stdint.h>

#include "models/sw_mctask.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sw_mctask_t t;
  sw_err_t err;
  (void)sw_mctask_parse(&t, (const char *)data, size, "fuzz.jsonl", 0, &err);
  sw_mctask_free(&t);
  return 0;
}
