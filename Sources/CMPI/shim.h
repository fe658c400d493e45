// The C door to Open MPI (Debian's libopenmpi-dev, pkg-config ompi-c). Only
// Sources/StrataDistributed/ProcessGroup.swift imports it.
//
// Open MPI spells its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) as
// macros over addresses of global objects, which Swift cannot import; these
// inline functions hand them over.
#include <mpi.h>

static inline MPI_Comm strata_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype strata_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype strata_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype strata_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype strata_mpi_long_long(void) { return MPI_LONG_LONG; }
static inline MPI_Op strata_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op strata_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op strata_mpi_min(void) { return MPI_MIN; }
static inline void *strata_mpi_in_place(void) { return MPI_IN_PLACE; }
