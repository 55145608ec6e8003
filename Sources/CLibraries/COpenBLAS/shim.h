// CBLAS and LAPACKE from Debian (libopenblas-dev, liblapacke-dev).
#include <cblas.h>
#include <lapacke.h>
