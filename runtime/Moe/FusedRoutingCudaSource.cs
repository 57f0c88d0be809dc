using MoeOpGen.Cuda;

namespace MoeOpGen.Moe;

/// <summary>
/// CUDA C++ source of the fused routing kernels, for NVRTC (header-free: no <c>#include</c>, so no CUDA headers
/// are needed on the user's machine). One module; every kernel has a stable <c>extern "C"</c> name.
/// </summary>
/// <remarks>
/// <para><b>Index format.</b> The row map of <see cref="FusedRowMap"/>: int32 <c>[T, E]</c>, <c>map[t·E + e]</c> =
/// destination row of token <c>t</c>'s copy for expert <c>e</c>, or -1. On CUDA it is built without a host sync by
/// <see cref="FusedRowMap.BuildWithTensorOps"/>. The row count is <c>E·C</c> with drop-and-pad, else
/// <c>numOutTokens</c> when given, else the sum of the routed counts (one sync).</para>
/// <para><b>Launch</b> (all kernels except <c>moe_permute_probs_bwd_*</c>). One token per block at a time, with a
/// grid-stride loop over tokens, so any grid up to <c>2^31 − 1</c> is correct (<see cref="FusedRoutingCudaKernels"/>
/// uses <c>min(T, 32 × SMs)</c>); skip the launch when <c>T = 0</c>. blockDim is a multiple of 32 in [32, 1024]
/// (the launcher uses 256); the probs-gradient reduction order depends on it, so keep it fixed for determinism.
/// Dynamic shared memory is <c>8·E</c> bytes, so E ≤ 6144 fits the default 48 KiB (beyond it the launch opts in).
/// Offsets are 64-bit. <c>moe_permute_probs_bwd_*</c> is element-wise: any grid and block, grid-stride over
/// <c>T·E</c>. The module compiles whole (it is small: about 0.7 s to PTX with NVRTC 11.8), so its kernels carry
/// no per-kernel compile guards.</para>
/// <para><b>Kernels.</b> All pointers are device pointers of contiguous tensors; <c>i64</c> is <c>long long</c>.
/// <list type="bullet">
/// <item><c>moe_permute_w{1,2,4,8,16}(const U* tokens, const int* row_map, const void* probs, U* permuted,
/// void* permuted_probs, i64 num_tokens, int num_experts, i64 row_units, int prob_bytes)</c>. It copies
/// each token row to its copies' rows and, when <c>probs</c> is non-null, <c>probs[t, e]</c> to
/// <c>permuted_probs[row]</c>, all in one pass. The copy is dtype-agnostic. <c>U</c> is a unit of 1, 2, 4, 8 or 16
/// bytes (<c>uint4</c>), and <c>row_units = H·elementSize / unit</c>. Pick the widest unit that divides the row's
/// bytes and the alignment of both base pointers. <c>prob_bytes</c> is the probs' element size (2, 4 or 8).</item>
/// <item><c>moe_unpermute_{f32,f64,f16,bf16}[_v16](const T* permuted, const int* row_map, const A* probs, T* out,
/// i64 num_tokens, int num_experts, i64 hidden)</c>: the gather-reduce
/// <c>out[t] = Σ_e p[t,e] · permuted[map[t,e]]</c>, in ascending expert order from zero. <c>A</c> is float (double
/// for f64). The products and sums are rounded explicitly (no FMA), then cast once, so the result is bit-identical to
/// the CPU path. <c>probs</c> may be null (p ≡ 1); otherwise it is <c>[T, E]</c> already converted to <c>A</c>. Tokens
/// with no copy get zeros. Permute backward for the tokens is this kernel on the permuted gradient with
/// <c>probs = null</c>.</item>
/// <item><c>moe_unpermute_bwd_{f32,f64,f16,bf16}[_v16](const T* grad_out, const T* permuted, const int* row_map,
/// const A* probs, T* grad_permuted, A* grad_probs, i64 num_tokens, int num_experts, i64 hidden)</c>:
/// <c>grad_permuted[row] = p · grad_out[t]</c>. When <c>grad_probs</c> is non-null it also writes
/// <c>grad_probs[t, e] = Σ_h permuted[row, h] · grad_out[t, h]</c>, zero where there is no copy: the whole
/// <c>[T, E]</c> tensor, in <c>A</c>; cast it to the probs' dtype afterwards. <c>permuted</c> is read only for
/// <c>grad_probs</c>. The dot's summation order (per-thread strides, then a fixed shuffle tree) differs from the
/// CPU's, so <c>grad_probs</c> agrees with the CPU to rounding, not bit for bit.</item>
/// <item><c>moe_permute_probs_bwd_w{2,4,8}(const U* grad_permuted_probs, const int* row_map, U* grad_probs,
/// i64 pairs)</c>: <c>grad_probs[i] = grad_permuted_probs[map[i]]</c>, or 0, for <c>i &lt; pairs = T·E</c>.</item>
/// </list>
/// The <c>_v16</c> variants move 16 bytes per access (4 f32, 2 f64, 8 f16/bf16). They need <c>hidden</c> divisible
/// by that count and 16-byte-aligned base pointers; otherwise use the scalar variant.</para>
/// </remarks>
[CudaModule]
internal static class FusedRoutingCudaSource
{
    /// <summary>The module as the CUDA runtime compiles and caches it (found by <see cref="CudaKernels.SourcesIn"/>,
    /// so <c>CudaKernels.Precompile(typeof(TokenPermutation).Assembly)</c> compiles it ahead of the first call).</summary>
    public static CudaSource Module { get; } = new("moe_routing", Source);

    /// <summary>The <c>extern "C"</c> kernel names defined by <see cref="Source"/>.</summary>
    public static readonly string[] KernelNames =
    {
        "moe_permute_w1", "moe_permute_w2", "moe_permute_w4", "moe_permute_w8", "moe_permute_w16",
        "moe_unpermute_f32", "moe_unpermute_f32_v16", "moe_unpermute_f64", "moe_unpermute_f64_v16",
        "moe_unpermute_f16", "moe_unpermute_f16_v16", "moe_unpermute_bf16", "moe_unpermute_bf16_v16",
        "moe_unpermute_bwd_f32", "moe_unpermute_bwd_f32_v16", "moe_unpermute_bwd_f64", "moe_unpermute_bwd_f64_v16",
        "moe_unpermute_bwd_f16", "moe_unpermute_bwd_f16_v16", "moe_unpermute_bwd_bf16", "moe_unpermute_bwd_bf16_v16",
        "moe_permute_probs_bwd_w2", "moe_permute_probs_bwd_w4", "moe_permute_probs_bwd_w8",
    };

    /// <summary>The module source (see the type's remarks for signatures and launch rules).</summary>
    public const string Source = """
        // MoeOpGen fused MoE token routing. Row map: int32 [T, E], map[t*E + e] = row of token t's copy for
        // expert e in the permuted tensor, or -1. Rows are expert-major, token-ascending (the non-fused order).
        typedef long long i64;
        typedef unsigned long long u64;

        // ---- Element codecs: load into the accumulator type, store rounding to nearest even. -----------------
        __device__ __forceinline__ float bf16_to_f32(unsigned short v) { return __uint_as_float(((unsigned int)v) << 16); }
        __device__ __forceinline__ unsigned short f32_to_bf16(float f) {
            unsigned int u = __float_as_uint(f);
            if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);  // NaN stays a quiet NaN
            u += 0x7fffu + ((u >> 16) & 1u);                                                  // ties to even
            return (unsigned short)(u >> 16);
        }
        __device__ __forceinline__ float f16_to_f32(unsigned short v) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v)); return f; }
        __device__ __forceinline__ unsigned short f32_to_f16(float f) { unsigned short v; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(v) : "f"(f)); return v; }

        // mul/madd round each step explicitly (no FMA contraction), as the CPU path does, so sums match it bit for bit.
        struct F32 {
            typedef float elem; typedef float acc;
            static __device__ __forceinline__ float load(float v) { return v; }
            static __device__ __forceinline__ float store(float v) { return v; }
            static __device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
            static __device__ __forceinline__ float madd(float s, float a, float b) { return __fadd_rn(s, __fmul_rn(a, b)); }
        };
        struct F64 {
            typedef double elem; typedef double acc;
            static __device__ __forceinline__ double load(double v) { return v; }
            static __device__ __forceinline__ double store(double v) { return v; }
            static __device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
            static __device__ __forceinline__ double madd(double s, double a, double b) { return __dadd_rn(s, __dmul_rn(a, b)); }
        };
        struct F16 {
            typedef unsigned short elem; typedef float acc;
            static __device__ __forceinline__ float load(unsigned short v) { return f16_to_f32(v); }
            static __device__ __forceinline__ unsigned short store(float v) { return f32_to_f16(v); }
            static __device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
            static __device__ __forceinline__ float madd(float s, float a, float b) { return __fadd_rn(s, __fmul_rn(a, b)); }
        };
        struct BF16 {
            typedef unsigned short elem; typedef float acc;
            static __device__ __forceinline__ float load(unsigned short v) { return bf16_to_f32(v); }
            static __device__ __forceinline__ unsigned short store(float v) { return f32_to_bf16(v); }
            static __device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
            static __device__ __forceinline__ float madd(float s, float a, float b) { return __fadd_rn(s, __fmul_rn(a, b)); }
        };

        // VEC elements moved by one aligned access.
        template <typename T, int VEC> struct alignas(sizeof(T) * VEC) Pack { T v[VEC]; };

        // ---- Per-token copy list. ---------------------------------------------------------------------------
        // Dynamic shared memory: s_row[E] then s_expert[E].
        extern __shared__ int moe_copy_list[];

        // Warp 0 compacts token t's map row into (row, expert) pairs in ascending expert order (ballot + popc keep
        // the order); returns the copy count to every thread of the block.
        __device__ __forceinline__ int collect_copies(const int* __restrict__ row_map, i64 t, int num_experts, int* s_count) {
            int* s_row = moe_copy_list;
            int* s_expert = moe_copy_list + num_experts;
            if (threadIdx.x < 32) {
                const unsigned int lane = threadIdx.x;
                const int* map_row = row_map + t * (i64)num_experts;
                int count = 0;
                for (int base = 0; base < num_experts; base += 32) {
                    const int e = base + (int)lane;
                    const int row = e < num_experts ? map_row[e] : -1;
                    const unsigned int routed = __ballot_sync(0xffffffffu, row >= 0);
                    if (row >= 0) {
                        const int slot = count + __popc(routed & ((1u << lane) - 1u));
                        s_row[slot] = row;
                        s_expert[slot] = e;
                    }
                    count += __popc(routed);
                }
                if (lane == 0) *s_count = count;
            }
            __syncthreads();
            return *s_count;
        }

        // Sum over the block with a fixed shuffle tree (deterministic for a given blockDim); valid in thread 0.
        template <typename A>
        __device__ __forceinline__ A block_sum(A value, A* s_partial) {
            for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
            const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
            if (lane == 0) s_partial[warp] = value;
            __syncthreads();
            A total = A(0);
            if (warp == 0) {
                total = lane < (int)(blockDim.x >> 5) ? s_partial[lane] : A(0);
                for (int offset = 16; offset > 0; offset >>= 1) total += __shfl_xor_sync(0xffffffffu, total, offset);
            }
            __syncthreads();  // s_partial is reused by the next call
            return total;
        }

        // ---- Permute: permuted[map[t,e]] = tokens[t]; permuted_probs[map[t,e]] = probs[t,e]. One pass. ---------
        template <typename U>
        __device__ void permute_rows(const U* __restrict__ tokens, const int* __restrict__ row_map,
                                     const void* __restrict__ probs, U* __restrict__ permuted, void* __restrict__ permuted_probs,
                                     i64 num_tokens, int num_experts, i64 row_units, int prob_bytes) {
            __shared__ int s_count;
            const int* s_row = moe_copy_list;
            const int* s_expert = moe_copy_list + num_experts;
            for (i64 t = blockIdx.x; t < num_tokens; t += gridDim.x) {
                const int copies = collect_copies(row_map, t, num_experts, &s_count);
                const U* source = tokens + t * row_units;
                for (i64 c = threadIdx.x; c < row_units; c += blockDim.x) {
                    const U value = source[c];  // read once, written to every copy
                    for (int j = 0; j < copies; ++j) permuted[(i64)s_row[j] * row_units + c] = value;
                }
                if (probs != nullptr) {
                    for (int j = threadIdx.x; j < copies; j += blockDim.x) {
                        const i64 from = t * num_experts + s_expert[j], to = s_row[j];
                        if (prob_bytes == 2) ((unsigned short*)permuted_probs)[to] = ((const unsigned short*)probs)[from];
                        else if (prob_bytes == 4) ((unsigned int*)permuted_probs)[to] = ((const unsigned int*)probs)[from];
                        else ((u64*)permuted_probs)[to] = ((const u64*)probs)[from];
                    }
                }
                __syncthreads();  // the next token reuses the copy list
            }
        }

        #define MOE_PERMUTE_KERNEL(NAME, U)                                                                         \
            extern "C" __global__ void NAME(const U* tokens, const int* row_map, const void* probs, U* permuted,   \
                                            void* permuted_probs, i64 num_tokens, int num_experts, i64 row_units,  \
                                            int prob_bytes) {                                                      \
                permute_rows<U>(tokens, row_map, probs, permuted, permuted_probs, num_tokens, num_experts,         \
                                row_units, prob_bytes);                                                            \
            }
        MOE_PERMUTE_KERNEL(moe_permute_w1, unsigned char)
        MOE_PERMUTE_KERNEL(moe_permute_w2, unsigned short)
        MOE_PERMUTE_KERNEL(moe_permute_w4, unsigned int)
        MOE_PERMUTE_KERNEL(moe_permute_w8, u64)
        MOE_PERMUTE_KERNEL(moe_permute_w16, uint4)

        // ---- Unpermute (gather-reduce): out[t] = sum over e ascending of p[t,e] * permuted[map[t,e]]. ----------
        template <typename C, int VEC>
        __device__ void unpermute_rows(const typename C::elem* __restrict__ permuted, const int* __restrict__ row_map,
                                       const typename C::acc* __restrict__ probs, typename C::elem* __restrict__ out,
                                       i64 num_tokens, int num_experts, i64 hidden) {
            typedef typename C::acc A;
            typedef Pack<typename C::elem, VEC> P;
            __shared__ int s_count;
            const int* s_row = moe_copy_list;
            const int* s_expert = moe_copy_list + num_experts;
            const i64 packs = hidden / VEC;
            const P* rows = reinterpret_cast<const P*>(permuted);
            P* destination = reinterpret_cast<P*>(out);
            for (i64 t = blockIdx.x; t < num_tokens; t += gridDim.x) {
                const int copies = collect_copies(row_map, t, num_experts, &s_count);
                for (i64 c = threadIdx.x; c < packs; c += blockDim.x) {
                    A sum[VEC];
                    #pragma unroll
                    for (int v = 0; v < VEC; ++v) sum[v] = A(0);
                    for (int j = 0; j < copies; ++j) {
                        const A w = probs != nullptr ? probs[t * num_experts + s_expert[j]] : A(1);
                        const P x = rows[(i64)s_row[j] * packs + c];
                        #pragma unroll
                        for (int v = 0; v < VEC; ++v) sum[v] = C::madd(sum[v], w, C::load(x.v[v]));
                    }
                    P y;
                    #pragma unroll
                    for (int v = 0; v < VEC; ++v) y.v[v] = C::store(sum[v]);
                    destination[t * packs + c] = y;
                }
                __syncthreads();
            }
        }

        // ---- Unpermute backward: grad_permuted[row] = p * grad_out[t]; grad_probs[t,e] = dot(permuted[row], grad_out[t]).
        template <typename C, int VEC>
        __device__ void unpermute_backward_rows(const typename C::elem* __restrict__ grad_out,
                                                const typename C::elem* __restrict__ permuted,
                                                const int* __restrict__ row_map, const typename C::acc* __restrict__ probs,
                                                typename C::elem* __restrict__ grad_permuted,
                                                typename C::acc* __restrict__ grad_probs,
                                                i64 num_tokens, int num_experts, i64 hidden) {
            typedef typename C::acc A;
            typedef Pack<typename C::elem, VEC> P;
            __shared__ int s_count;
            __shared__ A s_partial[32];
            const int* s_row = moe_copy_list;
            const int* s_expert = moe_copy_list + num_experts;
            const i64 packs = hidden / VEC;
            for (i64 t = blockIdx.x; t < num_tokens; t += gridDim.x) {
                const int copies = collect_copies(row_map, t, num_experts, &s_count);
                if (grad_probs != nullptr)
                    for (int e = threadIdx.x; e < num_experts; e += blockDim.x)
                        if (row_map[t * num_experts + e] < 0) grad_probs[t * num_experts + e] = A(0);
                const P* g = reinterpret_cast<const P*>(grad_out) + t * packs;
                for (int j = 0; j < copies; ++j) {
                    const A w = probs != nullptr ? probs[t * num_experts + s_expert[j]] : A(1);
                    const i64 row = s_row[j];
                    A dot = A(0);
                    for (i64 c = threadIdx.x; c < packs; c += blockDim.x) {
                        const P gp = g[c];
                        P dx;
                        #pragma unroll
                        for (int v = 0; v < VEC; ++v) dx.v[v] = C::store(C::mul(w, C::load(gp.v[v])));
                        reinterpret_cast<P*>(grad_permuted)[row * packs + c] = dx;
                        if (grad_probs != nullptr) {
                            const P xp = reinterpret_cast<const P*>(permuted)[row * packs + c];
                            #pragma unroll
                            for (int v = 0; v < VEC; ++v) dot = C::madd(dot, C::load(xp.v[v]), C::load(gp.v[v]));
                        }
                    }
                    if (grad_probs != nullptr) {
                        const A total = block_sum(dot, s_partial);
                        if (threadIdx.x == 0) grad_probs[t * num_experts + s_expert[j]] = total;
                    }
                }
                __syncthreads();
            }
        }

        #define MOE_UNPERMUTE_KERNELS(SUFFIX, C, VEC)                                                                \
            extern "C" __global__ void moe_unpermute_##SUFFIX(const C::elem* permuted, const int* row_map,          \
                                                              const C::acc* probs, C::elem* out, i64 num_tokens,     \
                                                              int num_experts, i64 hidden) {                         \
                unpermute_rows<C, VEC>(permuted, row_map, probs, out, num_tokens, num_experts, hidden);             \
            }                                                                                                       \
            extern "C" __global__ void moe_unpermute_bwd_##SUFFIX(const C::elem* grad_out, const C::elem* permuted,  \
                                                                  const int* row_map, const C::acc* probs,           \
                                                                  C::elem* grad_permuted, C::acc* grad_probs,        \
                                                                  i64 num_tokens, int num_experts, i64 hidden) {     \
                unpermute_backward_rows<C, VEC>(grad_out, permuted, row_map, probs, grad_permuted, grad_probs,      \
                                                num_tokens, num_experts, hidden);                                   \
            }
        MOE_UNPERMUTE_KERNELS(f32, F32, 1)
        MOE_UNPERMUTE_KERNELS(f32_v16, F32, 4)
        MOE_UNPERMUTE_KERNELS(f64, F64, 1)
        MOE_UNPERMUTE_KERNELS(f64_v16, F64, 2)
        MOE_UNPERMUTE_KERNELS(f16, F16, 1)
        MOE_UNPERMUTE_KERNELS(f16_v16, F16, 8)
        MOE_UNPERMUTE_KERNELS(bf16, BF16, 1)
        MOE_UNPERMUTE_KERNELS(bf16_v16, BF16, 8)

        // ---- Permute backward for the probs: grad_probs[i] = grad_permuted_probs[map[i]], or 0. ---------------
        template <typename U>
        __device__ void gather_probs_grad(const U* __restrict__ grad_permuted_probs, const int* __restrict__ row_map,
                                          U* __restrict__ grad_probs, i64 pairs) {
            for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < pairs; i += (i64)gridDim.x * blockDim.x) {
                const int row = row_map[i];
                grad_probs[i] = row >= 0 ? grad_permuted_probs[row] : U(0);  // all-zero bits are +0 in every float format
            }
        }

        #define MOE_PROBS_BWD_KERNEL(NAME, U)                                                                      \
            extern "C" __global__ void NAME(const U* grad_permuted_probs, const int* row_map, U* grad_probs,       \
                                            i64 pairs) {                                                           \
                gather_probs_grad<U>(grad_permuted_probs, row_map, grad_probs, pairs);                             \
            }
        MOE_PROBS_BWD_KERNEL(moe_permute_probs_bwd_w2, unsigned short)
        MOE_PROBS_BWD_KERNEL(moe_permute_probs_bwd_w4, unsigned int)
        MOE_PROBS_BWD_KERNEL(moe_permute_probs_bwd_w8, u64)
        """;
}
