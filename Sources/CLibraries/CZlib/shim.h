// zlib (zlib1g-dev).
#include <zlib.h>
