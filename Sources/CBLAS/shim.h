// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). The pthread flavour's header
// lives in a multiarch subfolder; fall back to the generic <cblas.h>.
#if __has_include(<x86_64-linux-gnu/openblas-pthread/cblas.h>)
#include <x86_64-linux-gnu/openblas-pthread/cblas.h>
#elif __has_include(<aarch64-linux-gnu/openblas-pthread/cblas.h>)
#include <aarch64-linux-gnu/openblas-pthread/cblas.h>
#else
#include <cblas.h>
#endif

// glibc's mallopt: Tensor raises the mmap/trim thresholds so large activation buffers
// are reused instead of being mapped, faulted and zero-filled on every forward pass.
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif
