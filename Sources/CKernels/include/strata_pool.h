// The worker pool of Threading.parallelFor: threads that stay alive between
// parallel regions and wait for the next one by spinning for a bounded time
// before they sleep, so the many short regions of a training step (a
// convolution's chunks, BatchNorm's channels) do not each pay a sleeping
// thread's wake-up. This is the only global state of CKernels.
#ifndef STRATA_POOL_H
#define STRATA_POOL_H

#include <stdint.h>

/// One item of a region: `index` in 0..<count, `context` as passed to
/// strata_pool_run.
typedef void (*strata_pool_item)(void *context, int64_t index);

/// Runs items 0..<count of `item` on the calling thread and up to
/// `workers` - 1 pool threads (started on first use and kept), each item
/// exactly once, taken one at a time by whichever thread asks first, and
/// returns when all have finished (their writes visible to the caller).
/// Returns 0 when it ran them (on fewer pool threads than asked if not all
/// could be started), or -1 without running any when the pool is already
/// running a region (a nested region, or one started on another thread),
/// when no pool thread could be started, or when `count` exceeds
/// UINT32_MAX or `workers` is below 1: the caller then runs the items
/// another way. `spinMicroseconds` is how long an idle pool thread keeps
/// polling for the next region before it sleeps (0: sleep at once).
int strata_pool_run(int64_t count, int workers, int64_t spinMicroseconds, strata_pool_item item, void *context);

/// CPU time in nanoseconds that pool thread `number` (0-based, in the order
/// started) has used so far, or -1 if there is no such thread (tests).
int64_t strata_pool_thread_cpu_ns(int number);

#endif
