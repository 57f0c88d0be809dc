using MoeOpGen.Cuda;

namespace MoeOpGen.Moe;

/// <summary>
/// CUDA C++ source of the fused routing kernels, for NVRTC (header-free: no <c>#include</c>, so no CUDA headers
/// are needed on the user's machine). One module; every kernel has a stable <c>extern "C"</c> name.
/// </summary>
/// <remarks>
/// <para><b>Index format.</b> The row map of <see cref="FusedRowMap"/>: int32 <c>[T, E]</c>, <c>map[t·E + e]</c> =
/// destination row of token <c>t</c>'s copy for expert <c>e</c>, or -1. On CUDA it is built by the
/// <c>moe_row_map_*</c> kernels below (<see cref="FusedRouting.BuildRowMap"/>). The row count is <c>E·C</c> with
/// drop-and-pad, else the number of routed pairs, which the scan leaves in device memory and the host reads back
/// once (after queuing the permute when the caller gave the count, see <b>Bounds</b>).</para>
/// <para><b>Launch.</b> Any grid up to <c>2^31 − 1</c> is correct: every kernel grid-strides over its work; skip the
/// launch when <c>T = 0</c>. No kernel uses dynamic shared memory. blockDim is a multiple of 32.
/// <list type="bullet">
/// <item>Warp tasks (<c>moe_permute_*</c>, <c>moe_unpermute_*</c> forward, and <c>moe_unpermute_bwd_*</c> when
/// <c>grad_probs</c> is null): one warp per (token, 32-unit segment of its row; 3 × 32 units for the unpermute
/// forward, <see cref="FusedRoutingCudaKernels.GatherUnitsPerLane"/>), at least one task per token, any
/// blockDim up to 1024 (<see cref="FusedRoutingCudaKernels"/> uses 256 and as many blocks as tasks need, capped at
/// 32 per SM). A warp walks the token's map row 32 experts at a time and ballots the routed ones, so there is no
/// copy list in shared memory and no block barrier, and each copy's prob is loaded once per warp.</item>
/// <item><c>moe_unpermute_bwd_*</c> with <c>grad_probs</c>: one token per block (each dot spans the row), blockDim
/// at most 256 (<c>__launch_bounds__</c>). The dot's reduction order depends on blockDim, so keep it fixed for a
/// shape: the launcher derives it from the row's width only.</item>
/// <item><c>moe_permute_probs_bwd_*</c>: element-wise, any grid and block, grid-stride over <c>T·E</c>.</item>
/// <item><c>moe_row_map_count_*</c>, <c>moe_row_map_rows_*</c>: one thread per (tile, expert) pair, grid-strided,
/// any grid and block. <c>moe_row_map_scan</c>: exactly one block, blockDim a multiple of 32 up to 1024.
/// <c>moe_row_map_summary</c>: any grid (the host reads back 2 values per block), blockDim a multiple of 32 up to
/// 1024.</item>
/// </list>
/// Offsets are 64-bit. <b>Bounds.</b> The forward kernels (<c>moe_permute_*</c>, <c>moe_unpermute_*</c>) take the
/// row count of the permuted tensor and treat a map entry at or past it like -1, so they never address memory outside
/// it whatever the map holds: the host queues them before it reads back the check of the map (the dropless routed
/// count, the unpermute's row-map summary) and discards their output when the check fails. The backward kernels
/// trust the map, which that check accepted before the forward returned. The module compiles whole (it is small: under a second to PTX with NVRTC 11.8), so its
/// kernels carry no per-kernel compile guards.</para>
/// <para><b>Memory-level parallelism.</b> A gather-reduce (unpermute forward) warp task takes 3 × 32 units of the
/// token's row (<c>MOE_GATHER_UNITS_PER_LANE</c>): each lane loads its 3 units of a copy's row before summing them,
/// copy after copy in ascending expert order, so one walk of the map row feeds three loads per lane and copy. In
/// harness 14 of bench/experiments/kernel-shapes that ran at 93.9 / 98.2 / 94.1 % of copy bandwidth at GPT-OSS,
/// Mixtral and DeepSeek-V3 widths on an H100 (88 / 95 / 87 % on an H200), where tasks of 32 units with the loads of up
/// to 4 copies in flight ran at 89.9 / 86.7 / 67.1 % (83 / 73 / 53 %); 2 units a lane with 2 copies was better at
/// GPT-OSS width and worse at DeepSeek-V3's, and 4 or more units a lane with 2 copies needed over 100 registers. The
/// unpermute backward's dot path loads the packs of up to 4 copies (<c>MOE_COPY_CHUNK</c>) before summing them. The
/// permute loads its unit before the map row, so both reads overlap, then stores it to every copy.</para>
/// <para><b>Kernels.</b> All pointers are device pointers of contiguous tensors; <c>i64</c> is <c>long long</c>.
/// <list type="bullet">
/// <item><c>moe_permute_w{1,2,4,8,16}(const U* tokens, const int* row_map, const void* probs, U* permuted,
/// void* permuted_probs, i64 num_tokens, i64 num_rows, int num_experts, i64 row_units, int prob_bytes)</c>. It
/// copies each token row to its copies' rows below <c>num_rows</c> (the rows of <c>permuted</c>) and, when <c>probs</c> is non-null, <c>probs[t, e]</c> to
/// <c>permuted_probs[row]</c>, all in one pass (the token's first warp task moves the probs). The copy is
/// dtype-agnostic. <c>U</c> is a unit of 1, 2, 4, 8 or 16 bytes (<c>uint4</c>), and <c>row_units = H·elementSize / unit</c>. Pick the widest unit that divides the row's
/// bytes and the alignment of both base pointers. <c>prob_bytes</c> is the probs' element size (2, 4 or 8).</item>
/// <item><c>moe_unpermute_{f32,f64,f16,bf16}[_v16](const T* permuted, const int* row_map, const A* probs, T* out,
/// i64 num_tokens, i64 num_rows, int num_experts, i64 hidden)</c>: the gather-reduce
/// <c>out[t] = Σ_e p[t,e] · permuted[map[t,e]]</c> over the copies whose row is below <c>num_rows</c> (the rows of
/// <c>permuted</c>), in ascending expert order from zero. <c>A</c> is float (double
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
/// <item><c>moe_row_map_count_w{1,2,4,8}(const M* routing_map, i64* counts, i64 num_tokens, int num_experts,
/// i64 tile)</c>, <c>moe_row_map_scan(i64* counts, i64 n)</c> and <c>moe_row_map_rows_w{1,2,4,8}(const M*
/// routing_map, const i64* counts, int* row_map, i64 num_tokens, int num_experts, i64 tile, i64 capacity)</c>,
/// launched in this order, build the row map of a contiguous <c>[T, E]</c> routing map of 1, 2, 4 or 8-byte elements
/// (nonzero is routed). The tokens are cut into tiles of <c>tile</c>; <c>counts</c> is int64 scratch of
/// <c>n + 1</c> entries, <c>n = ⌈T / tile⌉ · E</c>: the routed count of each (tile, expert), expert-major, then
/// (after the scan) their exclusive prefix sums and the total in <c>counts[n]</c>, the dropless row count.
/// <c>capacity</c> is the rows per expert for drop-and-pad (<c>E·capacity ≤ INT_MAX</c>), negative for dropless.
/// The result equals <see cref="FusedRowMap.BuildOnCpu"/>'s.</item>
/// <item><c>moe_row_map_summary(const int* row_map, i64 pairs, i64* summaries)</c>: per block <c>b</c>, the
/// entries ≥ 0 and the largest entry (-1 if none) of the row map in <c>summaries[2b]</c>, <c>summaries[2b + 1]</c>:
/// the fused unpermute's bounds check, reduced on the host.</item>
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
        "moe_row_map_count_w1", "moe_row_map_count_w2", "moe_row_map_count_w4", "moe_row_map_count_w8",
        "moe_row_map_scan",
        "moe_row_map_rows_w1", "moe_row_map_rows_w2", "moe_row_map_rows_w4", "moe_row_map_rows_w8",
        "moe_row_map_summary",
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
        // Copies whose rows the unpermute backward's dot path loads before any is summed: up to 4 loads of 16 bytes in
        // flight per thread, and 4 dots reduced together (two block barriers per 4 copies).
        #define MOE_COPY_CHUNK 4
        // Units of a token's row that one lane of the gather-reduce (unpermute forward) takes: its warp task is 32 times
        // this many units (FusedRoutingCudaKernels.GatherUnitsPerLane, which sizes the grid).
        #define MOE_GATHER_UNITS_PER_LANE 3

        // An entry at or past num_rows counts as no copy, like -1: the forward kernels are bounds-safe whatever the
        // map holds, so the host can launch them before it has read back the map's check (it then rejects the map and
        // discards the output). The backward kernels pass MOE_ANY_ROW: their map passed that check in the forward.
        #define MOE_ANY_ROW 0x7fffffffffffffffLL
        template <typename A>
        __device__ __forceinline__ unsigned int load_experts(const int* __restrict__ map_row, const A* __restrict__ prob_row,
                                                             int base, int num_experts, i64 num_rows, int& row, A& weight) {
            const int e = base + (int)(threadIdx.x & 31u);
            row = e < num_experts ? map_row[e] : -1;
            if (row >= num_rows) row = -1;
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
                                     i64 num_tokens, i64 num_rows, int num_experts, i64 row_units, int prob_bytes) {
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
                    unsigned int routed = load_experts<float>(map_row, nullptr, base, num_experts, num_rows, row, unused);
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
                                            void* permuted_probs, i64 num_tokens, i64 num_rows, int num_experts,   \
                                            i64 row_units, int prob_bytes) {                                       \
                permute_rows<U>(tokens, row_map, probs, permuted, permuted_probs, num_tokens, num_rows,            \
                                num_experts, row_units, prob_bytes);                                               \
            }
        MOE_PERMUTE_KERNEL(moe_permute_w1, unsigned char)
        MOE_PERMUTE_KERNEL(moe_permute_w2, unsigned short)
        MOE_PERMUTE_KERNEL(moe_permute_w4, unsigned int)
        MOE_PERMUTE_KERNEL(moe_permute_w8, u64)
        MOE_PERMUTE_KERNEL(moe_permute_w16, uint4)

        // ---- Unpermute (gather-reduce): out[t] = sum over e ascending of p[t,e] * permuted[map[t,e]]. ----------
        // Warp tasks of MOE_GATHER_UNITS_PER_LANE x 32 units of a token's row: lane i takes units i, i + 32, ..., so
        // each copy's row is read with that many loads in flight per lane, one copy after another, and every walk of
        // the token's map row feeds that many units. The sum runs copy by copy in ascending expert order from zero, the
        // CPU loop's order, so the result is bit-identical to it. (Tasks of 32 units with the loads of 4 copies in
        // flight ran at 83 / 73 / 53 % of copy bandwidth at GPT-OSS, Mixtral and DeepSeek-V3 widths on an H200, three
        // units a lane one copy at a time at 88 / 95 / 87 %: bench/experiments/kernel-shapes, harness 14.)
        template <typename C, int VEC>
        __device__ void unpermute_rows(const typename C::elem* __restrict__ permuted, const int* __restrict__ row_map,
                                       const typename C::acc* __restrict__ probs, typename C::elem* __restrict__ out,
                                       i64 num_tokens, i64 num_rows, int num_experts, i64 hidden) {
            typedef typename C::acc A;
            typedef Pack<typename C::elem, VEC> P;
            constexpr int S = MOE_GATHER_UNITS_PER_LANE;
            const i64 packs = hidden / VEC;
            const P* rows = reinterpret_cast<const P*>(permuted);
            P* destination = reinterpret_cast<P*>(out);
            const WarpTasks tasks(num_tokens, (packs + S - 1) / S);        // segments of 32·S packs
            for (i64 task = tasks.first; task < tasks.count; task += tasks.stride) {
                const i64 t = task / tasks.segments;
                const i64 first = (task - t * tasks.segments) * 32 * S + (threadIdx.x & 31u);
                const int* map_row = row_map + t * num_experts;
                const A* prob_row = probs != nullptr ? probs + t * num_experts : nullptr;
                A sum[S][VEC];
                #pragma unroll
                for (int j = 0; j < S; ++j) {
                    #pragma unroll
                    for (int v = 0; v < VEC; ++v) sum[j][v] = A(0);
                }
                for (int base = 0; base < num_experts; base += 32) {
                    int row; A weight;
                    unsigned int routed = load_experts<A>(map_row, prob_row, base, num_experts, num_rows, row, weight);
                    while (routed != 0u) {
                        const int from = next_copy(routed) & 31;
                        const i64 r = __shfl_sync(MOE_FULL_MASK, row, from);
                        const A w = __shfl_sync(MOE_FULL_MASK, weight, from);
                        P x[S];
                        #pragma unroll
                        for (int j = 0; j < S; ++j)
                            if (first + 32 * j < packs) x[j] = rows[r * packs + first + 32 * j];
                        #pragma unroll
                        for (int j = 0; j < S; ++j)
                            if (first + 32 * j < packs) {
                                #pragma unroll
                                for (int v = 0; v < VEC; ++v) sum[j][v] = C::madd(sum[j][v], w, C::load(x[j].v[v]));
                            }
                    }
                }
                #pragma unroll
                for (int j = 0; j < S; ++j)
                    if (first + 32 * j < packs) {
                        P y;
                        #pragma unroll
                        for (int v = 0; v < VEC; ++v) y.v[v] = C::store(sum[j][v]);
                        destination[t * packs + first + 32 * j] = y;
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
                    unsigned int routed = load_experts<A>(map_row, prob_row, base, num_experts, MOE_ANY_ROW, row, weight);
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
                    unsigned int routed = load_experts<A>(map_row, prob_row, base, num_experts, MOE_ANY_ROW, row, weight);
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
                                                              i64 num_rows, int num_experts, i64 hidden) {           \
                unpermute_rows<C, VEC>(permuted, row_map, probs, out, num_tokens, num_rows, num_experts, hidden);   \
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

        // ---- Row map (FusedRowMap's layout; FusedRowMap.BuildOnCpu is the reference). -------------------------
        // The tokens are cut into tiles of `tile` consecutive tokens. The unit of work is a (tile, expert) pair,
        // numbered pair = tile_index * E + expert, so that neighbouring threads read neighbouring experts of one
        // token (coalesced) and each thread walks its expert's column through the tile's tokens in ascending order.
        // counts is int64 [E * tiles + 1], expert-major: counts[expert * tiles + tile_index].
        //  1. moe_row_map_count_w*: counts[expert * tiles + tile_index] = routed tokens of that tile for that expert.
        //  2. moe_row_map_scan: counts -> their exclusive prefix sums in that expert-major order (in place), and
        //     counts[E * tiles] = the total. The prefix at (expert, tile) is the number of routed pairs that come
        //     before the tile's first token in the permuted order (expert-major, token-ascending): the dropless row of
        //     that token's copy for the expert, were it routed.
        //  3. moe_row_map_rows_w*: walks the tile again and writes the rows.
        // Every sum is an integer count, so the map does not depend on the schedule. A map entry is routed when it is
        // nonzero; M is an unsigned integer of the map's element width (bool and int8/uint8: 1 byte).
        // One (tile, expert) pair: the expert's column over the tokens [first, end) of tile tile_index.
        struct TilePair {
            i64 tile_index, first, end;
            int expert;
        };

        // The (tile, expert) pairs of a grid-stride loop: pair = tile_index * E + expert, so that neighbouring
        // threads take neighbouring experts of the same tokens.
        struct TilePairs {
            i64 num_tokens, tile, tiles, count, first, stride;
            int num_experts;
            __device__ __forceinline__ TilePairs(i64 num_tokens_, int num_experts_, i64 tile_)
                : num_tokens(num_tokens_), tile(tile_), num_experts(num_experts_) {
                tiles = (num_tokens + tile - 1) / tile;
                count = tiles * num_experts;
                first = (i64)blockIdx.x * blockDim.x + threadIdx.x;
                stride = (i64)gridDim.x * blockDim.x;
            }
            __device__ __forceinline__ TilePair at(i64 pair) const {
                TilePair p;
                p.tile_index = pair / num_experts;
                p.expert = (int)(pair - p.tile_index * num_experts);
                p.first = p.tile_index * tile;
                p.end = p.first + tile < num_tokens ? p.first + tile : num_tokens;
                return p;
            }
        };

        template <typename M>
        __device__ void count_routed_per_tile(const M* __restrict__ routing_map, i64* __restrict__ counts,
                                              i64 num_tokens, int num_experts, i64 tile) {
            const TilePairs pairs(num_tokens, num_experts, tile);
            for (i64 pair = pairs.first; pair < pairs.count; pair += pairs.stride) {
                const TilePair p = pairs.at(pair);
                i64 routed = 0;
                #pragma unroll 8
                for (i64 t = p.first; t < p.end; ++t) routed += routing_map[t * num_experts + p.expert] != M(0);
                counts[(i64)p.expert * pairs.tiles + p.tile_index] = routed;
            }
        }

        template <typename M>
        __device__ void write_rows(const M* __restrict__ routing_map, const i64* __restrict__ prefix,
                                   int* __restrict__ row_map, i64 num_tokens, int num_experts, i64 tile, i64 capacity) {
            const TilePairs pairs(num_tokens, num_experts, tile);
            for (i64 pair = pairs.first; pair < pairs.count; pair += pairs.stride) {
                const TilePair p = pairs.at(pair);
                const int expert = p.expert;
                // Routed pairs of the experts before this one, plus this expert's routed tokens before the tile.
                i64 routed_before = prefix[(i64)expert * pairs.tiles + p.tile_index];
                if (capacity < 0) {
                    // Dropless: the row is the number of routed pairs before this one in the permuted order. A count
                    // beyond INT_MAX wraps here; the host reads the total back and rejects such a map.
                    #pragma unroll 8
                    for (i64 t = p.first; t < p.end; ++t) {
                        const bool routed = routing_map[t * num_experts + expert] != M(0);
                        row_map[t * num_experts + expert] = routed ? (int)routed_before : -1;
                        routed_before += routed;
                    }
                } else {
                    // Drop-and-pad: expert e owns rows [e*C, (e+1)*C): its routed tokens by rank, then its unrouted
                    // tokens (the padding) by rank, and -1 beyond the capacity. counts[E * tiles] is the total, so
                    // the next expert's first prefix exists for the last expert too. E*C <= INT_MAX (host-checked).
                    const i64 expert_first = prefix[(i64)expert * pairs.tiles];   // routed pairs of the experts before
                    const i64 routed_count = prefix[(i64)(expert + 1) * pairs.tiles] - expert_first;
                    i64 rank = routed_before - expert_first;   // the expert's routed tokens before t
                    #pragma unroll 8
                    for (i64 t = p.first; t < p.end; ++t) {
                        const bool routed = routing_map[t * num_experts + expert] != M(0);
                        const i64 slot = routed ? rank : routed_count + (t - rank);   // t - rank unrouted tokens precede t
                        row_map[t * num_experts + expert] = slot < capacity ? (int)(expert * capacity + slot) : -1;
                        rank += routed;
                    }
                }
            }
        }

        #define MOE_ROW_MAP_KERNELS(WIDTH, M)                                                                      \
            extern "C" __global__ void moe_row_map_count_##WIDTH(const M* routing_map, i64* counts,               \
                                                                 i64 num_tokens, int num_experts, i64 tile) {     \
                count_routed_per_tile<M>(routing_map, counts, num_tokens, num_experts, tile);                     \
            }                                                                                                     \
            extern "C" __global__ void moe_row_map_rows_##WIDTH(const M* routing_map, const i64* counts,          \
                                                                int* row_map, i64 num_tokens, int num_experts,    \
                                                                i64 tile, i64 capacity) {                         \
                write_rows<M>(routing_map, counts, row_map, num_tokens, num_experts, tile, capacity);             \
            }
        MOE_ROW_MAP_KERNELS(w1, unsigned char)
        MOE_ROW_MAP_KERNELS(w2, unsigned short)
        MOE_ROW_MAP_KERNELS(w4, unsigned int)
        MOE_ROW_MAP_KERNELS(w8, u64)

        // Step 2, in one block (any blockDim that is a multiple of 32, up to 1024): counts[0, n) become their
        // exclusive prefix sums, counts[n] the total. Chunks of blockDim * MOE_SCAN_ITEMS counts, in order; each
        // thread takes MOE_SCAN_ITEMS consecutive counts of a chunk, so it reads and then rewrites only its own.
        #define MOE_SCAN_ITEMS 16
        extern "C" __global__ void __launch_bounds__(1024) moe_row_map_scan(i64* counts, i64 n) {
            __shared__ i64 s_warp_sums[32];
            const int lane = (int)(threadIdx.x & 31u), warp = (int)(threadIdx.x >> 5);
            const int warps = (int)(blockDim.x >> 5);
            const i64 chunk = (i64)blockDim.x * MOE_SCAN_ITEMS;
            i64 carry = 0;   // the sum of the earlier chunks, the same in every thread
            for (i64 base = 0; base < n; base += chunk) {
                const i64 first = base + (i64)threadIdx.x * MOE_SCAN_ITEMS;
                i64 item[MOE_SCAN_ITEMS];
                i64 own = 0;
                #pragma unroll
                for (int j = 0; j < MOE_SCAN_ITEMS; ++j) {
                    item[j] = first + j < n ? counts[first + j] : 0;
                    own += item[j];
                }
                i64 inclusive = own;   // over the warp's threads, in thread order
                #pragma unroll
                for (int offset = 1; offset < 32; offset <<= 1) {
                    const i64 other = __shfl_up_sync(MOE_FULL_MASK, inclusive, offset);
                    if (lane >= offset) inclusive += other;
                }
                if (lane == 31) s_warp_sums[warp] = inclusive;
                __syncthreads();
                if (warp == 0) {   // inclusive scan of the warp sums, in place
                    i64 sum = lane < warps ? s_warp_sums[lane] : 0;
                    #pragma unroll
                    for (int offset = 1; offset < 32; offset <<= 1) {
                        const i64 other = __shfl_up_sync(MOE_FULL_MASK, sum, offset);
                        if (lane >= offset) sum += other;
                    }
                    if (lane < warps) s_warp_sums[lane] = sum;
                }
                __syncthreads();
                i64 before = carry + (warp > 0 ? s_warp_sums[warp - 1] : 0) + inclusive - own;
                #pragma unroll
                for (int j = 0; j < MOE_SCAN_ITEMS; ++j) {
                    if (first + j < n) counts[first + j] = before;
                    before += item[j];
                }
                carry += s_warp_sums[warps - 1];
                __syncthreads();   // s_warp_sums is rewritten by the next chunk
            }
            if (threadIdx.x == 0) counts[n] = carry;
        }

        // ---- Row map check (the fused unpermute's): per block, the entries >= 0 and the largest entry. -----------
        // summaries is int64 [2 * gridDim.x]: (copies, largest) of block b at 2b, 2b + 1; the host adds the copies and
        // takes the largest (-1 for a block without entries). Any grid, blockDim a multiple of 32 up to 1024.
        extern "C" __global__ void moe_row_map_summary(const int* row_map, i64 pairs, i64* summaries) {
            __shared__ i64 s_copies[32];
            __shared__ int s_largest[32];
            i64 copies = 0;
            int largest = -1;
            for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (i64)gridDim.x * blockDim.x) {
                const int row = row_map[i];
                copies += row >= 0;
                largest = max(largest, row);
            }
            #pragma unroll
            for (int offset = 16; offset > 0; offset >>= 1) {
                copies += __shfl_xor_sync(MOE_FULL_MASK, copies, offset);
                largest = max(largest, __shfl_xor_sync(MOE_FULL_MASK, largest, offset));
            }
            const int lane = (int)(threadIdx.x & 31u), warp = (int)(threadIdx.x >> 5);
            if (lane == 0) { s_copies[warp] = copies; s_largest[warp] = largest; }
            __syncthreads();
            if (threadIdx.x == 0) {
                for (int w = 1; w < (int)(blockDim.x >> 5); ++w) {
                    copies += s_copies[w];
                    largest = max(largest, s_largest[w]);
                }
                summaries[2 * (i64)blockIdx.x] = copies;
                summaries[2 * (i64)blockIdx.x + 1] = largest;
            }
        }
        """;
}
