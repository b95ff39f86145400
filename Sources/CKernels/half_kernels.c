#include "half_kernels.h"
#include <string.h>

// Portable conversions (bit manipulation, round to nearest even), used where F16C is
// absent and for the tails of the vector loops.
static float half_to_float_scalar(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1fu) {                 // inf / NaN
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {              // normal
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {              // ±0
        bits = sign;
    } else {                                 // subnormal: renormalise
        int shift = 0;
        while ((mantissa & 0x400u) == 0) { mantissa <<= 1; shift++; }
        mantissa &= 0x3ffu;
        bits = sign | ((uint32_t)(113 - shift) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint16_t float_to_half_scalar(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {               // inf / NaN (keep NaN quiet and non-zero)
        return sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u | ((absx >> 13) & 0x3ffu) : 0);
    }
    if (absx >= 0x477ff000u) return sign | 0x7c00u;   // rounds past 65504: overflow
    if (absx < 0x38800000u) {                // result is subnormal or zero
        if (absx < 0x33000000u) return sign; // below half the smallest subnormal
        uint32_t exponent = absx >> 23;
        uint32_t mantissa = (absx & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - exponent;    // 14…24
        uint32_t value = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (rest > halfway || (rest == halfway && (value & 1u))) value++;
        return sign | (uint16_t)value;
    }
    uint32_t value = ((absx >> 13) - (112u << 10));     // rebias exponent
    uint32_t rest = absx & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (value & 1u))) value++;
    return sign | (uint16_t)value;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx,f16c")))
static void half_to_float_f16c(const uint16_t *src, float *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < count; i++) dst[i] = half_to_float_scalar(src[i]);
}

__attribute__((target("avx,f16c")))
static void float_to_half_f16c(const float *src, uint16_t *dst, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 f = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < count; i++) dst[i] = float_to_half_scalar(src[i]);
}

static int have_f16c(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c") ? 1 : 0;
    }
    return cached;
}
#else
static int have_f16c(void) { return 0; }
static void half_to_float_f16c(const uint16_t *src, float *dst, size_t count) { (void)src; (void)dst; (void)count; }
static void float_to_half_f16c(const float *src, uint16_t *dst, size_t count) { (void)src; (void)dst; (void)count; }
#endif

void dc_half_to_float(const uint16_t *src, float *dst, size_t count) {
    if (have_f16c()) { half_to_float_f16c(src, dst, count); return; }
    for (size_t i = 0; i < count; i++) dst[i] = half_to_float_scalar(src[i]);
}

void dc_float_to_half(const float *src, uint16_t *dst, size_t count) {
    if (have_f16c()) { float_to_half_f16c(src, dst, count); return; }
    for (size_t i = 0; i < count; i++) dst[i] = float_to_half_scalar(src[i]);
}

int dc_half_uses_f16c(void) { return have_f16c(); }
