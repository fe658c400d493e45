#include "strata_kernels.h"

static int cpu_vector_width(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
#endif
    return 4;
}

// The widest vectors the running CPU takes, for the C kernels that exist
// in several instruction-set variants (Winograd, max pooling). Asked once:
// the max-pooling kernels dispatch on it per plane. (Two threads that ask
// first both store the same value.)
int strata_vector_width(void) {
    static int width;
    if (width == 0) width = cpu_vector_width();
    return width;
}
