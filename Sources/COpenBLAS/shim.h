#ifndef STRATA_COPENBLAS_SHIM_H
#define STRATA_COPENBLAS_SHIM_H
/* CBLAS as shipped by OpenBLAS (Debian: libopenblas-dev) and LAPACKE
   (Debian: liblapacke-dev). The thread-control functions are declared here
   as well, so the shim does not depend on which cblas.h the alternatives
   system selected. */
#include <cblas.h>
#include <lapacke.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
#endif
