// The worker pool behind Threading.parallelFor (strata_pool.h).
//
// One region at a time. The caller publishes a region by storing a new
// ticket: the region's generation in the high 32 bits, the next unclaimed
// item in the low 32. Every thread (the caller included) claims items by a
// compare-and-swap on the whole ticket, so a thread still looking at a
// finished region can never claim an item of the next one. `pending` counts
// the items not yet finished; the caller returns when it reaches 0, and
// only then may the next region overwrite `item` and `context`, so a
// claimed item always runs with its own region's function.
//
// An idle pool thread polls the ticket for spin_ns nanoseconds, then
// sleeps on a condition variable. Sleeping is announced by `sleepers`
// (incremented under the lock before the ticket is checked again); the
// caller stores the ticket, then reads `sleepers` (both sequentially
// consistent), and broadcasts under the lock when it is not 0, so a
// thread going to sleep either sees the new ticket or is woken.

#include "strata_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/// At most this many pool threads (regions ask for Threading.count - 1).
#define POOL_MAX_THREADS 255

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    _Atomic uint64_t ticket;   // generation << 32 | next unclaimed item
    _Atomic int64_t count;     // items of the current region
    _Atomic int64_t pending;   // items claimed or not, not yet finished
    _Atomic(strata_pool_item) item;
    _Atomic(void *) context;
    _Atomic int64_t spin_ns;   // how long an idle thread polls before it sleeps
    _Atomic int helpers;       // pool threads that take part in the current region
    _Atomic int sleepers;      // pool threads asleep or about to be
    _Atomic int busy;          // a region is running
    _Atomic int threads;       // pool threads started (changed only by a caller holding busy)
    pthread_t ids[POOL_MAX_THREADS];
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint32_t generation_of(uint64_t ticket) { return (uint32_t)(ticket >> 32); }

/// Claims and runs items of region `generation` until none is left (or the
/// region is no longer current).
static void run_items(uint32_t generation) {
    for (;;) {
        uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        if (generation_of(t) != generation) return;
        int64_t index = (int64_t)(t & 0xffffffffu);
        if (index >= atomic_load_explicit(&pool.count, memory_order_relaxed)) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        strata_pool_item item = atomic_load_explicit(&pool.item, memory_order_relaxed);
        void *context = atomic_load_explicit(&pool.context, memory_order_relaxed);
        item(context, index);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
    }
}

/// A pool thread: `arg` packs its number (low 16 bits) and the generation
/// current when it was started (high 32 bits).
static void *pool_thread(void *arg) {
    uintptr_t packed = (uintptr_t)arg;
    int number = (int)(packed & 0xffff);
    uint32_t seen = (uint32_t)(packed >> 32);
    int tookPart = 1;  // started for a region it takes part in
    for (;;) {
        // Only a thread that took part in the last region polls for the
        // next: one left out (Threading.count lowered since it started)
        // sleeps at once instead of spending a core after every region.
        int64_t start = now_ns();
        int64_t spin = tookPart ? atomic_load_explicit(&pool.spin_ns, memory_order_relaxed) : 0;
        uint32_t polls = 0;
        uint32_t generation;
        while ((generation = generation_of(atomic_load_explicit(&pool.ticket, memory_order_acquire))) == seen) {
            cpu_relax();
            if ((++polls & 63) != 0 || now_ns() - start < spin) continue;
            pthread_mutex_lock(&pool.lock);
            atomic_fetch_add(&pool.sleepers, 1);
            while (generation_of(atomic_load(&pool.ticket)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = generation;
        tookPart = number < atomic_load_explicit(&pool.helpers, memory_order_relaxed);
        if (tookPart) run_items(generation);
    }
    return NULL;
}

int strata_pool_run(int64_t count, int workers, int64_t spinMicroseconds, strata_pool_item item, void *context) {
    if (count <= 0) return 0;
    if (count > (int64_t)UINT32_MAX || workers < 1) return -1;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &idle, 1)) return -1;

    uint32_t generation = generation_of(atomic_load(&pool.ticket));
    int helpers = workers - 1 < POOL_MAX_THREADS ? workers - 1 : POOL_MAX_THREADS;
    while (pool.threads < helpers) {
        pthread_attr_t attributes;
        pthread_t thread;
        int failed = pthread_attr_init(&attributes);
        if (!failed) {
            pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
            uintptr_t packed = ((uintptr_t)generation << 32) | (uintptr_t)pool.threads;
            failed = pthread_create(&thread, &attributes, pool_thread, (void *)packed);
            pthread_attr_destroy(&attributes);
        }
        if (failed) break;
        pool.ids[pool.threads] = thread;
        pool.threads += 1;
    }
    if (pool.threads == 0 && helpers > 0) {
        atomic_store(&pool.busy, 0);
        return -1;
    }
    if (helpers > pool.threads) helpers = pool.threads;

    atomic_store_explicit(&pool.spin_ns, spinMicroseconds * 1000, memory_order_relaxed);
    atomic_store_explicit(&pool.helpers, helpers, memory_order_relaxed);
    atomic_store_explicit(&pool.count, count, memory_order_relaxed);
    atomic_store_explicit(&pool.pending, count, memory_order_relaxed);
    atomic_store_explicit(&pool.item, item, memory_order_relaxed);
    atomic_store_explicit(&pool.context, context, memory_order_relaxed);
    generation += 1;
    atomic_store(&pool.ticket, (uint64_t)generation << 32);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }

    run_items(generation);
    // The last items may still run on pool threads: poll, and give the core
    // away now and then in case the thread running one was descheduled.
    uint32_t polls = 0;
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) != 0) {
        cpu_relax();
        if ((++polls & 1023) == 0) sched_yield();
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 0;
}

int64_t strata_pool_thread_cpu_ns(int number) {
    if (number < 0 || number >= atomic_load(&pool.threads)) return -1;
    clockid_t clock;
    struct timespec t;
    if (pthread_getcpuclockid(pool.ids[number], &clock) != 0 || clock_gettime(clock, &t) != 0) return -1;
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
