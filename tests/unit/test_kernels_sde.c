/* Unit test for sw_sde: kernel statistics accounted into an sw_sde_t context are read back through PAPI as
 * software-defined events (sde:::<library>::<counter>), with the values computed by hand, also after a
 * context is shut down and a new one created under the same library name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <papi.h>
#include <string.h>

#include "kernels/sw_sde.h"

static void test_sde_counters_read_through_papi(void **state) {
  (void)state;
  sw_sde_t ctx;
  sw_err_t err;
  assert_int_equal(sw_sde_init(&ctx, "sparsweep_test", &err), SW_OK);
  assert_int_equal(PAPI_library_init(PAPI_VER_CURRENT), PAPI_VER_CURRENT);
  int es = PAPI_NULL;
  assert_int_equal(PAPI_create_eventset(&es), PAPI_OK);
  assert_int_equal(PAPI_add_named_event(es, "sde:::sparsweep_test::flops"), PAPI_OK);
  assert_int_equal(PAPI_add_named_event(es, "sde:::sparsweep_test::neurons_executed"), PAPI_OK);
  assert_int_equal(PAPI_add_named_event(es, "sde:::sparsweep_test::weight_bytes"), PAPI_OK);
  sw_ffn_stats_t pre = {0};
  pre.flops = 5.0;
  sw_sde_account(&ctx, &pre); /* before start: not part of the measured delta */
  assert_int_equal(PAPI_start(es), PAPI_OK);
  sw_ffn_stats_t st = {0};
  st.flops = 1000.0, st.neurons_executed = 7, st.weight_bytes = 4096.0, st.calls = 1;
  sw_sde_account(&ctx, &st);
  st.flops = 24.4; /* rounded to 24 */
  sw_sde_account(&ctx, &st);
  long long v[3] = {-1, -1, -1};
  assert_int_equal(PAPI_stop(es, v), PAPI_OK);
  assert_int_equal(v[0], 1024);
  assert_int_equal(v[1], 14);
  assert_int_equal(v[2], 8192);
  assert_int_equal(ctx.calls, 2);
  assert_int_equal(ctx.flops, 1029);
  sw_sde_shutdown(&ctx);
  /* a second context under the same name increments the same (libsde-owned) counters */
  sw_sde_t ctx2;
  assert_int_equal(sw_sde_init(&ctx2, "sparsweep_test", &err), SW_OK);
  assert_int_equal(PAPI_start(es), PAPI_OK);
  st.flops = 10.0, st.neurons_executed = 1, st.weight_bytes = 2.0;
  sw_sde_account(&ctx2, &st);
  assert_int_equal(PAPI_stop(es, v), PAPI_OK);
  assert_int_equal(v[0], 10);
  assert_int_equal(v[1], 1);
  assert_int_equal(v[2], 2);
  assert_int_equal(ctx2.calls, 1);
  sw_sde_shutdown(&ctx2);
  PAPI_cleanup_eventset(es);
  PAPI_destroy_eventset(&es);
  PAPI_shutdown();
  assert_string_equal(sw_sde_counter_names[0], "flops");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_sde_counters_read_through_papi)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
