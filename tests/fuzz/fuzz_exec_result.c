/* libFuzzer entry point for the executor's RESULT payload decoder (workers/sw_executor_proto.h): any bytes
 * must decode or fail cleanly, never read past the payload, crash or leak.  ctest replays
 * tests/fuzz/corpus/exec_result through replay_main.c (label fuzz-regress). */
#include <stddef.h>
#include <stdint.h>

#include "workers/sw_executor_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sw_outcome_t res;
  sw_err_t err;
  if (sw_exec_decode_result(data, size, &res, &err) == SW_OK) sw_outcome_free(&res);
  return 0;
}
