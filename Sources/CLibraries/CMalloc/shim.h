// glibc malloc tuning (mallopt), used by the CLI at start-up.
#include <malloc.h>
