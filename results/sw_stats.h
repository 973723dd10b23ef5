/* The statistics module moved to common/sw_stats.h (one module for runners, benchmarks and reports, so every
 * median has one definition).  This forwarding header only keeps code written against the old path building;
 * include common/sw_stats.h instead. */
#ifndef SW_RESULTS_STATS_FORWARD_H
#define SW_RESULTS_STATS_FORWARD_H
#include "common/sw_stats.h"
#endif
