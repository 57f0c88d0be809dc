// ---- MoeOpGen preamble: header-free, so NVRTC needs no CUDA headers on the user's machine ----
struct __align__(2) mog_bf16 { unsigned short bits; };
struct __align__(2) mog_f16 { unsigned short bits; };

__device__ __forceinline__ float mog_load(float v) { return v; }
__device__ __forceinline__ float mog_load(mog_bf16 v) { return __uint_as_float(((unsigned int)v.bits) << 16); }
__device__ __forceinline__ float mog_load(mog_f16 v) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits)); return f; }

template <typename T> __device__ __forceinline__ T mog_store(float f);
template <> __device__ __forceinline__ float mog_store<float>(float f) { return f; }
template <> __device__ __forceinline__ mog_bf16 mog_store<mog_bf16>(float f)
{
    // Round to nearest even; NaN stays a (quiet) NaN with its sign. (Packs of two are stored by mog_store_x2.)
    unsigned int u = __float_as_uint(f);
    mog_bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) { r.bits = (unsigned short)((u >> 16) | 0x40u); return r; }
    u += 0x7fffu + ((u >> 16) & 1u);
    r.bits = (unsigned short)(u >> 16);
    return r;
}
template <> __device__ __forceinline__ mog_f16 mog_store<mog_f16>(float f)
{
    mog_f16 r; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r.bits) : "f"(f)); return r;
}

// Two values stored as one 32-bit word, lo in the low half (16-bit types). From sm_80 one packing conversion: the
// integer bf16 rounding above takes about six instructions an element, a fifth of weighted SwiGLU forward's, and with
// GeGLU's heavier maths it made the kernels instruction-bound (H100, harness 11: GeGLU backward 89 -> 94 % of copy
// bandwidth with one-instruction bf16 stores alone). The hardware's NaN has no sign or payload (PyTorch's bf16
// rounding drops them too); the scalar paths keep the integer form, whose code the compiler keeps in registers.
template <typename T> __device__ __forceinline__ unsigned int mog_store_x2(float lo, float hi);
template <> __device__ __forceinline__ unsigned int mog_store_x2<mog_bf16>(float lo, float hi)
{
#if __CUDA_ARCH__ >= 800
    unsigned int w; asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo)); return w;
#else
    return (unsigned int)mog_store<mog_bf16>(lo).bits | ((unsigned int)mog_store<mog_bf16>(hi).bits << 16);
#endif
}
template <> __device__ __forceinline__ unsigned int mog_store_x2<mog_f16>(float lo, float hi)
{
#if __CUDA_ARCH__ >= 800
    unsigned int w; asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(w) : "f"(hi), "f"(lo)); return w;
#else
    return (unsigned int)mog_store<mog_f16>(lo).bits | ((unsigned int)mog_store<mog_f16>(hi).bits << 16);
#endif
}

// A pack's 16 bytes stored from V values (or from V / 2 pairs a[k], b[k] alternating: a0 b0 a1 b1 ...), built as
// four 32-bit words in registers (each 16-bit value written through a pointer into a uint4 costs a merge, and with the
// conversion as an instruction it put the FP8 forward's pack in local memory: a 48-byte stack frame).
template <typename T>
__device__ __forceinline__ uint4 mog_store_pack16(const float* v)
{
    if constexpr (sizeof(T) == 4)
        return make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
    else
        return make_uint4(mog_store_x2<T>(v[0], v[1]), mog_store_x2<T>(v[2], v[3]), mog_store_x2<T>(v[4], v[5]), mog_store_x2<T>(v[6], v[7]));
}
template <typename T>
__device__ __forceinline__ uint4 mog_store_pack16_pairs(const float* a, const float* b)
{
    if constexpr (sizeof(T) == 4)
        return make_uint4(__float_as_uint(a[0]), __float_as_uint(b[0]), __float_as_uint(a[1]), __float_as_uint(b[1]));
    else
        return make_uint4(mog_store_x2<T>(a[0], b[0]), mog_store_x2<T>(a[1], b[1]), mog_store_x2<T>(a[2], b[2]), mog_store_x2<T>(a[3], b[3]));
}

// FP8 E4M3FN (bias 7, max finite 448, one NaN code per sign), round to nearest even, SATURATING at ±448
// (the reference's unsaturated cast turns |x| > 464 into NaN). A NaN code is also how a clamped input is
// remembered for backward: the code's sign says +c or -c, and its gradient is zero.
// On sm_89 and later the conversions are single instructions (cvt ... e4m3x2, whose satfinite saturation and
// round-to-nearest-even are the rules above); the integer forms cost about 30 instructions an element, which made
// the FP8 kernels instruction-bound (H200: backward with bias and FP8 input at 35 % of copy bandwidth against 68 %
// reading bf16). Both give the same codes and values; the hardware's NaN is unsigned, so a NaN keeps its sign here.
__device__ __forceinline__ unsigned char mog_fp8_encode(float f)
{
    unsigned int sign = (__float_as_uint(f) >> 24) & 0x80u;
#if __CUDA_ARCH__ >= 890
    unsigned short pair;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(0.f), "f"(f));   // f goes to the low byte
    return f != f ? (unsigned char)(sign | 0x7fu) : (unsigned char)(pair & 0xffu);
#else
    float a = fabsf(f);
    if (a != a) return (unsigned char)(sign | 0x7fu);
    if (a >= 448.f) return (unsigned char)(sign | 0x7eu);
    if (a < 0.015625f) return (unsigned char)(sign | (unsigned int)__float2int_rn(a * 512.f));   // subnormal: m · 2^-9
    unsigned int u = __float_as_uint(a);
    u += 0x7ffffu + ((u >> 20) & 1u);                                                     // keep 3 mantissa bits, RNE
    unsigned int e = (u >> 23) - 120u, m = (u >> 20) & 7u;
    if (e > 15u || (e == 15u && m == 7u)) return (unsigned char)(sign | 0x7eu);
    return (unsigned char)(sign | (e << 3) | m);
#endif
}
__device__ __forceinline__ bool mog_fp8_is_nan(unsigned char q) { return (q & 0x7fu) == 0x7fu; }
__device__ __forceinline__ float mog_fp8_decode(unsigned char q)
{
#if __CUDA_ARCH__ >= 890
    unsigned int halves;                                  // the code's f16 value in the low half (every E4M3 is an f16)
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(halves) : "h"((unsigned short)q));
    float v;
    asm("cvt.f32.f16 %0, %1;" : "=f"(v) : "h"((unsigned short)(halves & 0xffffu)));
    return v;
#else
    unsigned int e = (q >> 3) & 15u, m = q & 7u;
    float v = e == 0u ? (float)m * 0.001953125f : __uint_as_float(((e + 120u) << 23) | (m << 20));
    if (e == 15u && m == 7u) v = __uint_as_float(0x7fc00000u);
    return (q & 0x80u) ? -v : v;
#endif
}

// Exp, Sigmoid, Tanh and division by storage precision (mog_fast = the kernel's storage type is 16-bit,
// mog_fast_maths<T>). A bf16 or fp16 result is rounded to 8 or 11 significant bits, far coarser than the hardware
// approximations err (__expf: 2 + floor(1.173·|x|) ulp of fp32, reciprocal and div.full: 2 ulp), and IEEE expf and
// division made the kernels instruction-bound: on an H100, weighted SwiGLU backward at GPT-OSS width ran at 84 % of
// copy bandwidth with them and at 96 % with these, SiTuGLU forward at 60 % with its two IEEE divisions by the caps
// and at 81 % without (harness 10). fp32 (and fp64) storage keeps expf and IEEE division.
template <typename T> struct mog_fast_maths { static constexpr bool value = sizeof(T) == 2; };
template <bool mog_fast> __device__ __forceinline__ float mog_exp(float x) { return mog_fast ? __expf(x) : expf(x); }
template <bool mog_fast> __device__ __forceinline__ float mog_div(float a, float b)
{
    // div.full: a few instructions, no IEEE slow path, at most 2 ulp over the whole range (the cheaper __fdividef
    // returns 0 for divisors beyond 2^126, so 1e38 / 1e38 would be 0).
    if (!mog_fast) return a / b;
    float q; asm("div.full.f32 %0, %1, %2;" : "=f"(q) : "f"(a), "f"(b)); return q;
}
// 2^x and 1/x of the fast Sigmoid and Tanh, without denormal handling (.ftz): there the power only feeds 1 + e or
// e + 1 and the reciprocal is of a number >= 1, so a flushed denormal cannot change the result, and the plain forms
// spend about three instructions each on denormal scaling (H100, harness 11: GeGLU forward with bias and clamp 90 ->
// 98 % of copy bandwidth with this and the one-instruction bf16 store).
__device__ __forceinline__ float mog_exp2_ftz(float x) { float r; asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x)); return r; }
__device__ __forceinline__ float mog_rcp_ftz(float x) { float r; asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x)); return r; }
template <bool mog_fast> __device__ __forceinline__ float mog_sigmoid(float x)
{
    // 1 / (1 + 2^(-x·log2 e)). For x < -88, 1 + e^-x overflows to +inf and the reciprocal is 0, the correctly rounded
    // sigmoid's limit at 16-bit storage.
    return mog_fast ? mog_rcp_ftz(1.f + mog_exp2_ftz(x * -1.44269504f)) : 1.f / (1.f + expf(-x));
}
template <bool mog_fast> __device__ __forceinline__ float mog_tanh(float x)
{
    // tanh x = 1 - 2 / (e^2x + 1): a few 1e-7 from tanhf absolutely, ±1 for large |x| (e^2x overflowing to +inf makes
    // the quotient 0), NaN stays NaN. The subtraction leaves only that absolute accuracy near 0 (5 % relative error at
    // x = 1e-6, more than a bf16 rounding where tanh is used directly, as in SiTuGLU's cap·tanh(x/cap)), so below
    // |x| = 0.01 the series x - x³/3 is used (its next term is 2x⁵/15, under 1e-9 relative there); both sides stay
    // within a few 1e-5 relative of tanh. IEEE tanhf held GEGLU's forward with a bias at 88-94 % of copy bandwidth on
    // an H100 where the other operators reach 97-99 %.
    if (!mog_fast) return tanhf(x);
    return fabsf(x) < 0.01f ? x * (1.f - x * x * (1.f / 3.f)) : 1.f - 2.f * mog_rcp_ftz(mog_exp2_ftz(x * 2.88539008f) + 1.f);
}
__device__ __forceinline__ float mog_min(float a, float b) { return b < a ? b : a; }        // NaN in a propagates
__device__ __forceinline__ float mog_max(float a, float b) { return b > a ? b : a; }
__device__ __forceinline__ float mog_clamp(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

// A pack is the 16 bytes one thread moves: V = 16 / sizeof(T) elements, the last pack of a row may hold fewer (n).
template <typename T>
__device__ __forceinline__ void mog_load_pack(const T* __restrict__ p, int n, int vec, float* v)
{
    constexpr int V = 16 / sizeof(T);
    if (vec) {
        uint4 q = *reinterpret_cast<const uint4*>(p); const T* t = reinterpret_cast<const T*>(&q);
#pragma unroll
        for (int k = 0; k < V; k++) v[k] = mog_load(t[k]);
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) v[k] = k < n ? mog_load(p[k]) : 0.f;
    }
}

template <typename T>
__device__ __forceinline__ void mog_store_pack(T* __restrict__ p, int n, int vec, const float* v)
{
    constexpr int V = 16 / sizeof(T);
    if (vec) {
        *reinterpret_cast<uint4*>(p) = mog_store_pack16<T>(v);
    } else {
        for (int k = 0; k < n; k++) p[k] = mog_store<T>(v[k]);
    }
}

