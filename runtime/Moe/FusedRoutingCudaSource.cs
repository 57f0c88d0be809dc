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
/// <para><b>Launch.</b> Any grid up to <c>2^31 − 1</c> is correct: every kernel grid-strides over its work; skip the
/// launch when <c>T = 0</c>. No kernel uses dynamic shared memory. blockDim is a multiple of 32.
/// <list type="bullet">
/// <item>Warp tasks (<c>moe_permute_*</c>, <c>moe_unpermute_*</c> forward, and <c>moe_unpermute_bwd_*</c> when
/// <c>grad_probs</c> is null): one warp per (token, 32-unit segment of its row), at least one task per token, any
/// blockDim up to 1024 (<see cref="FusedRoutingCudaKernels"/> uses 256 and as many blocks as tasks need, capped at
/// 32 per SM). A warp walks the token's map row 32 experts at a time and ballots the routed ones, so there is no
/// copy list in shared memory and no block barrier, and each copy's prob is loaded once per warp.</item>
/// <item><c>moe_unpermute_bwd_*</c> with <c>grad_probs</c>: one token per block (each dot spans the row), blockDim
/// at most 256 (<c>__launch_bounds__</c>). The dot's reduction order depends on blockDim, so keep it fixed for a
/// shape: the launcher derives it from the row's width only.</item>
/// <item><c>moe_permute_probs_bwd_*</c>: element-wise, any grid and block, grid-stride over <c>T·E</c>.</item>
/// </list>
/// Offsets are 64-bit. The module compiles whole (it is small: under a second to PTX with NVRTC 11.8), so its
/// kernels carry no per-kernel compile guards.</para>
/// <para><b>Memory-level parallelism.</b> The gather-reduce kernels load the packs of up to 4 copies
/// (<c>MOE_COPY_CHUNK</c>) before summing them, so a top-4 token's reads are in flight together; the sum still runs in
/// ascending expert order. Four, not eight: with eight the bf16 gather-reduce needs 88 registers (2 blocks of 256
/// per SM) against 60 (4 blocks), so fewer reads would be in flight per SM for top-4 and the same for top-8
/// (ptxas for sm_90, NVRTC 11.8). The permute loads its unit before the map row, so both reads overlap, then stores
/// it to every copy.</para>
/// <para><b>Kernels.</b> All pointers are device pointers of contiguous tensors; <c>i64</c> is <c>long long</c>.
/// <list type="bullet">
/// <item><c>moe_permute_w{1,2,4,8,16}(const U* tokens, const int* row_map, const void* probs, U* permuted,
/// void* permuted_probs, i64 num_tokens, int num_experts, i64 row_units, int prob_bytes)</c>. It copies
/// each token row to its copies' rows and, when <c>probs</c> is non-null, <c>probs[t, e]</c> to
/// <c>permuted_probs[row]</c>, all in one pass (the token's first warp task moves the probs). The copy is
/// dtype-agnostic. <c>U</c> is a unit of 1, 2, 4, 8 or 16 bytes (<c>uint4</c>), and <c>row_units = H·elementSize / unit</c>. Pick the widest unit that divides the row's
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
/// CPU's, so <c>grad_probs</c> agrees with the CPU to rounding, not bit for bit. Without <c>grad_probs</c> it is a
/// scatter in warp tasks; with it, one token per block, 4 copies at a time: each thread reads its <c>grad_out</c>
/// pack once for the 4, and their 4 dots are reduced together (two block barriers per 4 copies, not per copy).</item>
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

        // ---- Walking a token's copies (no shared memory, no block barrier). --------------------------------------
        // A warp reads token t's map row 32 experts at a time (lane i: expert base + i), with that expert's prob when
        // asked, and ballots the routed ones: the set bits, lowest first, are the copies in ascending expert order.
        // Every lane holds the same mask, so loops over it are warp-uniform, and shuffles hand each copy's row and
        // prob to the whole warp: one load per copy per token and warp, not one per element.
        #define MOE_FULL_MASK 0xffffffffu
        // Copies whose rows are loaded before any is summed: up to 4 loads of 16 bytes in flight per thread (see the
        // remarks of FusedRoutingCudaSource for why 4).
        #define MOE_COPY_CHUNK 4

        template <typename A>
        __device__ __forceinline__ unsigned int load_experts(const int* __restrict__ map_row, const A* __restrict__ prob_row,
                                                             int base, int num_experts, int& row, A& weight) {
            const int e = base + (int)(threadIdx.x & 31u);
            row = e < num_experts ? map_row[e] : -1;
            weight = (row >= 0 && prob_row != nullptr) ? prob_row[e] : A(1);
            return __ballot_sync(MOE_FULL_MASK, row >= 0);
        }

        // The lane (= expert - base) of the next copy in ascending expert order, removed from the mask; -1 once the
        // mask is empty (callers mask it with & 31 for the shuffles and never use that copy).
        __device__ __forceinline__ int next_copy(unsigned int& routed) {
            const int lane = __ffs((int)routed) - 1;
            routed &= routed - 1u;
            return lane;
        }

        // Warp tasks: task = (token, segment of 32 units of its row); lane i takes unit segment·32 + i, so a warp
        // moves 32 consecutive units of each row it touches. Tasks are grid-strided over all the warps of the grid
        // (any grid is correct; blockDim must be a multiple of 32). Every token has at least one task.
        struct WarpTasks {
            i64 first, stride, count, segments;
            __device__ __forceinline__ WarpTasks(i64 num_tokens, i64 units) {
                segments = units > 0 ? (units + 31) / 32 : 1;
                count = num_tokens * segments;
                first = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
                stride = (i64)gridDim.x * (blockDim.x >> 5);
            }
        };

        // ---- Permute: permuted[map[t,e]] = tokens[t]; permuted_probs[map[t,e]] = probs[t,e]. One pass. ---------
        // A scatter: each unit is read once and stored to every copy; stores do not stall the thread. The unit is
        // loaded before the map row, so the two reads' latencies overlap.
        template <typename U>
        __device__ void permute_rows(const U* __restrict__ tokens, const int* __restrict__ row_map,
                                     const void* __restrict__ probs, U* __restrict__ permuted, void* __restrict__ permuted_probs,
                                     i64 num_tokens, int num_experts, i64 row_units, int prob_bytes) {
            const WarpTasks tasks(num_tokens, row_units);
            const int lane = (int)(threadIdx.x & 31u);
            for (i64 task = tasks.first; task < tasks.count; task += tasks.stride) {
                const i64 t = task / tasks.segments;
                const i64 segment = task - t * tasks.segments;
                const i64 c = segment * 32 + lane;
                const bool active = c < row_units;
                U value;
                if (active) value = tokens[t * row_units + c];
                const int* map_row = row_map + t * num_experts;
                for (int base = 0; base < num_experts; base += 32) {
                    int row; float unused;
                    unsigned int routed = load_experts<float>(map_row, nullptr, base, num_experts, row, unused);
                    if (probs != nullptr && segment == 0 && row >= 0) {   // the token's first task moves its probs
                        const i64 from = t * num_experts + base + lane;
                        if (prob_bytes == 2) ((unsigned short*)permuted_probs)[row] = ((const unsigned short*)probs)[from];
                        else if (prob_bytes == 4) ((unsigned int*)permuted_probs)[row] = ((const unsigned int*)probs)[from];
                        else ((u64*)permuted_probs)[row] = ((const u64*)probs)[from];
                    }
                    while (routed != 0u) {
                        const int to = __shfl_sync(MOE_FULL_MASK, row, next_copy(routed) & 31);
                        if (active) permuted[(i64)to * row_units + c] = value;
                    }
                }
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
        // Warp tasks. The packs of up to MOE_COPY_CHUNK copies are loaded (predicated) before any is summed, so their
        // reads are in flight together; the sum still runs copy by copy in ascending expert order from zero, the
        // CPU loop's order, so the result is bit-identical to it.
        template <typename C, int VEC>
        __device__ void unpermute_rows(const typename C::elem* __restrict__ permuted, const int* __restrict__ row_map,
                                       const typename C::acc* __restrict__ probs, typename C::elem* __restrict__ out,
                                       i64 num_tokens, int num_experts, i64 hidden) {
            typedef typename C::acc A;
            typedef Pack<typename C::elem, VEC> P;
            const i64 packs = hidden / VEC;
            const P* rows = reinterpret_cast<const P*>(permuted);
            P* destination = reinterpret_cast<P*>(out);
            const WarpTasks tasks(num_tokens, packs);
            for (i64 task = tasks.first; task < tasks.count; task += tasks.stride) {
                const i64 t = task / tasks.segments;
                const i64 c = (task - t * tasks.segments) * 32 + (threadIdx.x & 31u);
                const bool active = c < packs;
                const int* map_row = row_map + t * num_experts;
                const A* prob_row = probs != nullptr ? probs + t * num_experts : nullptr;
                A sum[VEC];
                #pragma unroll
                for (int v = 0; v < VEC; ++v) sum[v] = A(0);
                for (int base = 0; base < num_experts; base += 32) {
                    int row; A weight;
                    unsigned int routed = load_experts<A>(map_row, prob_row, base, num_experts, row, weight);
                    while (routed != 0u) {
                        const int n = min(__popc(routed), MOE_COPY_CHUNK);
                        P x[MOE_COPY_CHUNK];
                        A w[MOE_COPY_CHUNK];
                        #pragma unroll
                        for (int u = 0; u < MOE_COPY_CHUNK; ++u) {
                            const int from = next_copy(routed) & 31;
                            const int r = __shfl_sync(MOE_FULL_MASK, row, from);
                            w[u] = __shfl_sync(MOE_FULL_MASK, weight, from);
                            if (u < n && active) x[u] = rows[(i64)r * packs + c];
                        }
                        #pragma unroll
                        for (int u = 0; u < MOE_COPY_CHUNK; ++u)
                            if (u < n && active) {
                                #pragma unroll
                                for (int v = 0; v < VEC; ++v) sum[v] = C::madd(sum[v], w[u], C::load(x[u].v[v]));
                            }
                    }
                }
                if (active) {
                    P y;
                    #pragma unroll
                    for (int v = 0; v < VEC; ++v) y.v[v] = C::store(sum[v]);
                    destination[t * packs + c] = y;
                }
            }
        }

        // ---- Unpermute backward: grad_permuted[row] = p * grad_out[t]; grad_probs[t,e] = dot(permuted[row], grad_out[t]).
        // Without grad_probs: a scatter in warp tasks, like the permute (a thread reads its grad_out pack once, before
        // the map row).
        template <typename C, int VEC>
        __device__ void scatter_scaled_rows(const typename C::elem* __restrict__ grad_out, const int* __restrict__ row_map,
                                            const typename C::acc* __restrict__ probs,
                                            typename C::elem* __restrict__ grad_permuted,
                                            i64 num_tokens, int num_experts, i64 hidden) {
            typedef typename C::acc A;
            typedef Pack<typename C::elem, VEC> P;
            const i64 packs = hidden / VEC;
            const WarpTasks tasks(num_tokens, packs);
            for (i64 task = tasks.first; task < tasks.count; task += tasks.stride) {
                const i64 t = task / tasks.segments;
                const i64 c = (task - t * tasks.segments) * 32 + (threadIdx.x & 31u);
                const bool active = c < packs;
                P gp;
                if (active) gp = reinterpret_cast<const P*>(grad_out)[t * packs + c];
                const int* map_row = row_map + t * num_experts;
                const A* prob_row = probs != nullptr ? probs + t * num_experts : nullptr;
                for (int base = 0; base < num_experts; base += 32) {
                    int row; A weight;
                    unsigned int routed = load_experts<A>(map_row, prob_row, base, num_experts, row, weight);
                    while (routed != 0u) {
                        const int from = next_copy(routed) & 31;
                        const int r = __shfl_sync(MOE_FULL_MASK, row, from);
                        const A w = __shfl_sync(MOE_FULL_MASK, weight, from);
                        if (active) {
                            P dx;
                            #pragma unroll
                            for (int v = 0; v < VEC; ++v) dx.v[v] = C::store(C::mul(w, C::load(gp.v[v])));
                            reinterpret_cast<P*>(grad_permuted)[(i64)r * packs + c] = dx;
                        }
                    }
                }
            }
        }

        // Sums value[u] for u < n over the block, each with a fixed shuffle tree (deterministic for a given blockDim);
        // the sums are valid in thread 0. n must be the same in every thread of the block.
        template <typename A>
        __device__ __forceinline__ void block_sums(A (&value)[MOE_COPY_CHUNK], int n, A (*s_partial)[32]) {
            const int warp = (int)(threadIdx.x >> 5), lane = (int)(threadIdx.x & 31u);
            #pragma unroll
            for (int u = 0; u < MOE_COPY_CHUNK; ++u)
                if (u < n) {
                    A v = value[u];
                    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(MOE_FULL_MASK, v, offset);
                    if (lane == 0) s_partial[u][warp] = v;
                }
            __syncthreads();
            if (warp == 0) {
                #pragma unroll
                for (int u = 0; u < MOE_COPY_CHUNK; ++u)
                    if (u < n) {
                        A total = lane < (int)(blockDim.x >> 5) ? s_partial[u][lane] : A(0);
                        for (int offset = 16; offset > 0; offset >>= 1) total += __shfl_xor_sync(MOE_FULL_MASK, total, offset);
                        value[u] = total;
                    }
            }
            __syncthreads();  // s_partial is reused by the next chunk
        }

        // With grad_probs: one token per block, since each dot spans the whole row. Every warp walks the same map
        // row, so the copy masks are block-uniform. For up to MOE_COPY_CHUNK copies at a time, a thread reads its
        // grad_out pack once and the copies' packs together, stores the scaled gradients and adds to one partial dot
        // per copy (packs threadIdx.x, +blockDim.x, ... in order); the chunk's dots are then reduced together, two
        // barriers per chunk. The dot's order depends on blockDim only, so the launch fixes blockDim by the shape.
        template <typename C, int VEC>
        __device__ void scatter_scaled_rows_with_dot(const typename C::elem* __restrict__ grad_out,
                                                     const typename C::elem* __restrict__ permuted,
                                                     const int* __restrict__ row_map, const typename C::acc* __restrict__ probs,
                                                     typename C::elem* __restrict__ grad_permuted,
                                                     typename C::acc* __restrict__ grad_probs,
                                                     i64 num_tokens, int num_experts, i64 hidden) {
            typedef typename C::acc A;
            typedef Pack<typename C::elem, VEC> P;
            __shared__ A s_partial[MOE_COPY_CHUNK][32];
            const i64 packs = hidden / VEC;
            const P* rows = reinterpret_cast<const P*>(permuted);
            P* row_grads = reinterpret_cast<P*>(grad_permuted);
            for (i64 t = blockIdx.x; t < num_tokens; t += gridDim.x) {
                const int* map_row = row_map + t * num_experts;
                const A* prob_row = probs != nullptr ? probs + t * num_experts : nullptr;
                const P* g = reinterpret_cast<const P*>(grad_out) + t * packs;
                for (int e = threadIdx.x; e < num_experts; e += blockDim.x)
                    if (map_row[e] < 0) grad_probs[t * num_experts + e] = A(0);
                for (int base = 0; base < num_experts; base += 32) {
                    int row; A weight;
                    unsigned int routed = load_experts<A>(map_row, prob_row, base, num_experts, row, weight);
                    while (routed != 0u) {
                        const int n = min(__popc(routed), MOE_COPY_CHUNK);
                        unsigned int chunk = routed;   // walked again after the reduction, for the experts' ids
                        int r[MOE_COPY_CHUNK];
                        A w[MOE_COPY_CHUNK], dot[MOE_COPY_CHUNK];
                        #pragma unroll
                        for (int u = 0; u < MOE_COPY_CHUNK; ++u) {
                            const int from = next_copy(routed) & 31;
                            r[u] = __shfl_sync(MOE_FULL_MASK, row, from);
                            w[u] = __shfl_sync(MOE_FULL_MASK, weight, from);
                            dot[u] = A(0);
                        }
                        for (i64 c = threadIdx.x; c < packs; c += blockDim.x) {
                            const P gp = g[c];
                            P x[MOE_COPY_CHUNK];
                            #pragma unroll
                            for (int u = 0; u < MOE_COPY_CHUNK; ++u)
                                if (u < n) x[u] = rows[(i64)r[u] * packs + c];
                            #pragma unroll
                            for (int u = 0; u < MOE_COPY_CHUNK; ++u)
                                if (u < n) {
                                    P dx;
                                    #pragma unroll
                                    for (int v = 0; v < VEC; ++v) dx.v[v] = C::store(C::mul(w[u], C::load(gp.v[v])));
                                    row_grads[(i64)r[u] * packs + c] = dx;
                                    #pragma unroll
                                    for (int v = 0; v < VEC; ++v) dot[u] = C::madd(dot[u], C::load(x[u].v[v]), C::load(gp.v[v]));
                                }
                        }
                        block_sums<A>(dot, n, s_partial);
                        if (threadIdx.x == 0) {
                            #pragma unroll
                            for (int u = 0; u < MOE_COPY_CHUNK; ++u) {
                                const int expert = base + next_copy(chunk);
                                if (u < n) grad_probs[t * num_experts + expert] = dot[u];
                            }
                        }
                    }
                }
            }
        }

        // The backward kernels are limited to 256 threads per block, so the dot path's blockDim (up to 256, by the
        // shape) always gets the registers it needs (about 90 for bf16 16-byte packs: 2 blocks of 256 per SM).
        #define MOE_UNPERMUTE_KERNELS(SUFFIX, C, VEC)                                                                \
            extern "C" __global__ void moe_unpermute_##SUFFIX(const C::elem* permuted, const int* row_map,          \
                                                              const C::acc* probs, C::elem* out, i64 num_tokens,     \
                                                              int num_experts, i64 hidden) {                         \
                unpermute_rows<C, VEC>(permuted, row_map, probs, out, num_tokens, num_experts, hidden);             \
            }                                                                                                       \
            extern "C" __global__ void __launch_bounds__(256)                                                       \
            moe_unpermute_bwd_##SUFFIX(const C::elem* grad_out, const C::elem* permuted, const int* row_map,       \
                                       const C::acc* probs, C::elem* grad_permuted, C::acc* grad_probs,            \
                                       i64 num_tokens, int num_experts, i64 hidden) {                              \
                if (grad_probs == nullptr)                                                                          \
                    scatter_scaled_rows<C, VEC>(grad_out, row_map, probs, grad_permuted, num_tokens, num_experts,   \
                                                hidden);                                                            \
                else                                                                                                \
                    scatter_scaled_rows_with_dot<C, VEC>(grad_out, permuted, row_map, probs, grad_permuted,         \
                                                         grad_probs, num_tokens, num_experts, hidden);              \
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
