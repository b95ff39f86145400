// fp16 <-> fp32 conversion for dialclip's half-precision weight storage. OpenBLAS has
// no fp16 GEMM, so fp16 layers are widened into an fp32 scratch buffer right before use;
// these loops run once per layer per forward pass and must keep up with memory.
#ifndef DIALCLIP_HALF_KERNELS_H
#define DIALCLIP_HALF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Widens `count` IEEE binary16 values (native byte order) to fp32. Exact.
void dc_half_to_float(const uint16_t *src, float *dst, size_t count);

/// Narrows `count` fp32 values to IEEE binary16, rounding to nearest even; values beyond
/// the fp16 range become ±infinity, NaN stays NaN.
void dc_float_to_half(const float *src, uint16_t *dst, size_t count);

/// 1 when the F16C instructions are used, 0 for the portable loops (for `dialclip doctor`).
int dc_half_uses_f16c(void);

#endif
