/* sw_keys_int (internal to experiments/): the tables of experiments/sw_keys_table.c as sw_keys.c reads them. */
#ifndef SW_KEYS_INT_H
#define SW_KEYS_INT_H
#include <stddef.h>

#include "experiments/sw_keys.h"

#define SW_KEYS_MAX_TABLES 4 /* tables one workload accepts */

typedef struct sw_workload_keys {
  const char *workload;
  const char *tables[SW_KEYS_MAX_TABLES]; /* first match decides; unused entries NULL */
  int         open;                       /* 1: any other key is accepted too (it only labels trials) */
} sw_workload_keys_t;

extern const sw_keytable_t      sw_keytables[];
extern const size_t             sw_n_keytables;
extern const sw_workload_keys_t sw_workload_keys[];
extern const size_t             sw_n_workload_keys;

#endif
