// zstd (libzstd-dev).
#include <zstd.h>
