// Measurement harness 12 (not product code): where do the backward with bias's last points go? Alone it runs at
// 86.6 / 90.8 / 88.7 % of copy (GPT-OSS / Mixtral / DeepSeek-V3 widths, harness 9) where the backward without bias,
// a block per row with about four packs per thread, runs at 95-98 %; more resident warps (harness 7), loads in flight
// and row order (harness 9) are ruled out. One kernel template restates the generated one (mog_gated_backward_bias,
// bf16 SwiGLU with weights, halves layout, 16-byte packs) with switches, each taking one thing away or changing it:
//   P        packs of a row per thread (1 as generated; 2 and 4 amortise the per-row work: weight load, shuffle
//            reduction, partial store, loop);
//   DOT      the row's weights-gradient partial: SHUFFLE (generated: five dependent shuffles a row), SMEM (each
//            thread parks its dot product in shared memory and the warp adds 32 rows at once), NONE (ablation);
//   SUMS     the bias-gradient sums (false: ablation);
//   BIAS     the bias add (false, with SUMS false: the maths of the backward without bias on this grid);
//   RELOAD   the bias pack read again each row (L1-resident) instead of kept in registers;
//   S        packs per column slice: 128 as generated, or the row split evenly (GPT-OSS: 360 packs = 3 x 120, where
//            the generated 128 / 128 / 104 leaves the third slice's blocks idle for a fifth of the time).
// Ablations (DOT NONE, SUMS false) compute wrong gradients by design and are not checked; the others must give dx
// bit for bit as the generated kernel, dw and dbias to float rounding (their summation order follows the grid).
// Then the two reductions as generated against a bias reduction with four independent accumulators per warp and one
// with 32 warps a block (the generated one is latency-bound: 38 dependent-address loads a warp at GPT-OSS).
// Usage: bias-ablation ROWS HIDDEN           (timings, JSON lines)
//        bias-ablation ROWS HIDDEN profile   (one launch each of the generated kernels with and without bias, for ncu)
#include MOG_SOURCE
#include "timing.cuh"
#include <cmath>
typedef mog_bf16 T;
constexpr int V = 8;
enum { SHUFFLE, SMEM, NONE };

__device__ __forceinline__ void unpack(const uint4& q, float* v)
{
    const T* t = reinterpret_cast<const T*>(&q);
#pragma unroll
    for (int k = 0; k < V; k++) v[k] = mog_load(t[k]);
}

template <bool C, int P, int DOT, bool SUMS, bool BIAS, bool RELOAD>
__global__ void __launch_bounds__(128) ablation_bwd(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ w,
    const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw_partial, float* __restrict__ dbias_partial,
    long long rows, long long h, long long rows_per_group, long long slice_packs, float c, mog_scalars s)
{
    __shared__ float dots[DOT == SMEM ? 32 : 1][DOT == SMEM ? 129 : 1];   // [row slot][thread], padded
    const long long packs = h / V, start = blockIdx.y * slice_packs;
    const long long end = start + slice_packs < packs ? start + slice_packs : packs;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    long long col[P]; bool active[P];
#pragma unroll
    for (int j = 0; j < P; j++) { const long long p = start + threadIdx.x + j * blockDim.x; active[j] = p < end; col[j] = p * V; }
    const long long first = blockIdx.x * rows_per_group, last = first + rows_per_group < rows ? first + rows_per_group : rows;
    float sum_a[P][V], sum_b[P][V], ba[P][V], bb[P][V];
#pragma unroll
    for (int j = 0; j < P; j++)
#pragma unroll
        for (int k = 0; k < V; k++) { sum_a[j][k] = 0.f; sum_b[j][k] = 0.f; ba[j][k] = 0.f; bb[j][k] = 0.f; }
    if (BIAS && !RELOAD)
#pragma unroll
        for (int j = 0; j < P; j++) if (active[j]) mog_load_pair(bias, col[j], V, h, 0, 1, ba[j], bb[j]);
    int slot = 0;
    for (long long r = first; r < last; r++) {
        const float wr = w[r];
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < P; j++) {
            if (!active[j]) continue;
            const uint4 qa = *reinterpret_cast<const uint4*>(x + r * 2 * h + col[j]);
            const uint4 qb = *reinterpret_cast<const uint4*>(x + r * 2 * h + h + col[j]);
            const uint4 qg = *reinterpret_cast<const uint4*>(g + r * h + col[j]);
            if (BIAS && RELOAD) mog_load_pair(bias, col[j], V, h, 0, 1, ba[j], bb[j]);
            float a[V], b[V], gg[V], da[V], db[V];
            unpack(qa, a); unpack(qb, b); unpack(qg, gg);
#pragma unroll
            for (int k = 0; k < V; k++) {
                bool pass_a = true, pass_b = true;
                if (C) {
                    if (a[k] > c) { a[k] = c; pass_a = false; }
                    if (b[k] > c) { b[k] = c; pass_b = false; } else if (b[k] < -c) { b[k] = -c; pass_b = false; }
                }
                if (BIAS) { a[k] += ba[j][k]; b[k] += bb[j][k]; }
                float d_gate, d_linear;
                const float value = mog_value_and_gradients<true>(a[k], b[k], gg[k] * wr, s, d_gate, d_linear);
                if (DOT != NONE) dot += value * gg[k];
                if (SUMS) { sum_a[j][k] += d_gate; sum_b[j][k] += d_linear; }
                da[k] = pass_a ? d_gate : 0.f; db[k] = pass_b ? d_linear : 0.f;
            }
            mog_store_pair(dx + r * 2 * h, col[j], V, h, 0, 1, da, db);
        }
        if (DOT == SHUFFLE) {
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
            if (lane == 0) dw_partial[((long long)blockIdx.y * warps + warp) * rows + r] = dot;
        } else if (DOT == SMEM) {
            dots[slot][threadIdx.x] = dot;
            if (++slot == 32 || r + 1 == last) {              // the same r in every thread: a uniform branch
                __syncwarp();
                if (lane < slot) {                            // lane l adds its warp's 32 dot products of row slot l
                    float v = 0.f;
                    for (int k = 0; k < 32; k++) v += dots[lane][warp * 32 + k];
                    dw_partial[((long long)blockIdx.y * warps + warp) * rows + r - (slot - 1 - lane)] = v;
                }
                __syncwarp();
                slot = 0;
            }
        }
    }
#pragma unroll
    for (int j = 0; j < P; j++) {
        if (!active[j]) continue;
#pragma unroll
        for (int k = 0; k < V; k++) {
            dbias_partial[blockIdx.x * 2 * h + col[j] + k] = sum_a[j][k];
            dbias_partial[blockIdx.x * 2 * h + h + col[j] + k] = sum_b[j][k];
        }
    }
}

// R rows an iteration, the loads of all R issued before any is used (P = 1, shuffle, sums, bias kept or reloaded):
// do more loads in flight per warp, at the cost of 12 registers a row, close the gap to the block-per-row kernel?
template <bool C, int R, bool RELOAD>
__global__ void __launch_bounds__(128) rows_bwd(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ w,
    const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw_partial, float* __restrict__ dbias_partial,
    long long rows, long long h, long long rows_per_group, long long slice_packs, float c, mog_scalars s)
{
    const long long packs = h / V, p = blockIdx.y * slice_packs + threadIdx.x, col = p * V;
    const bool active = threadIdx.x < slice_packs && p < packs;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const long long first = blockIdx.x * rows_per_group, last = first + rows_per_group < rows ? first + rows_per_group : rows;
    float sum_a[V], sum_b[V], ba[V], bb[V];
#pragma unroll
    for (int k = 0; k < V; k++) { sum_a[k] = 0.f; sum_b[k] = 0.f; ba[k] = 0.f; bb[k] = 0.f; }
    if (active && !RELOAD) mog_load_pair(bias, col, V, h, 0, 1, ba, bb);
    for (long long r0 = first; r0 < last; r0 += R) {
        uint4 qa[R], qb[R], qg[R]; float wr[R];
#pragma unroll
        for (int i = 0; i < R; i++) {
            const long long r = r0 + i;
            qa[i] = qb[i] = qg[i] = make_uint4(0, 0, 0, 0); wr[i] = 0.f;
            if (active && r < last) {
                qa[i] = *reinterpret_cast<const uint4*>(x + r * 2 * h + col); qb[i] = *reinterpret_cast<const uint4*>(x + r * 2 * h + h + col);
                qg[i] = *reinterpret_cast<const uint4*>(g + r * h + col); wr[i] = w[r];
            }
        }
#pragma unroll
        for (int i = 0; i < R; i++) {
            const long long r = r0 + i;
            if (r >= last) break;                             // uniform over the block
            float dot = 0.f;
            if (active) {
                if (RELOAD) mog_load_pair(bias, col, V, h, 0, 1, ba, bb);
                float a[V], b[V], gg[V], da[V], db[V];
                unpack(qa[i], a); unpack(qb[i], b); unpack(qg[i], gg);
#pragma unroll
                for (int k = 0; k < V; k++) {
                    bool pass_a = true, pass_b = true;
                    if (C) {
                        if (a[k] > c) { a[k] = c; pass_a = false; }
                        if (b[k] > c) { b[k] = c; pass_b = false; } else if (b[k] < -c) { b[k] = -c; pass_b = false; }
                    }
                    a[k] += ba[k]; b[k] += bb[k];
                    float d_gate, d_linear;
                    const float value = mog_value_and_gradients<true>(a[k], b[k], gg[k] * wr[i], s, d_gate, d_linear);
                    dot += value * gg[k];
                    sum_a[k] += d_gate; sum_b[k] += d_linear;
                    da[k] = pass_a ? d_gate : 0.f; db[k] = pass_b ? d_linear : 0.f;
                }
                mog_store_pair(dx + r * 2 * h, col, V, h, 0, 1, da, db);
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
            if (lane == 0) dw_partial[((long long)blockIdx.y * warps + warp) * rows + r] = dot;
        }
    }
    if (!active) return;
#pragma unroll
    for (int k = 0; k < V; k++) {
        dbias_partial[blockIdx.x * 2 * h + col + k] = sum_a[k];
        dbias_partial[blockIdx.x * 2 * h + h + col + k] = sum_b[k];
    }
}

// The bias reduction with WARPS warps a block and U independent accumulators a warp (partials p, p + WARPS, ... go
// round-robin to them), the accumulators then the warps added in a fixed order.
template <int WARPS, int U>
__global__ void __launch_bounds__(WARPS * 32) reduce_bias_variant(const float* __restrict__ partial, T* __restrict__ dbias, long long parts, long long h)
{
    __shared__ float sums[WARPS][33];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const long long j = blockIdx.x * 32LL + lane;
    float acc[U];
#pragma unroll
    for (int u = 0; u < U; u++) acc[u] = 0.f;
    if (j < 2 * h) {
        long long p = warp;
        for (; p + (U - 1) * WARPS < parts; p += U * WARPS)
#pragma unroll
            for (int u = 0; u < U; u++) acc[u] += partial[(p + u * WARPS) * 2 * h + j];
        for (; p < parts; p += WARPS) acc[0] += partial[p * 2 * h + j];
    }
    float sum = 0.f;
#pragma unroll
    for (int u = 0; u < U; u++) sum += acc[u];
    sums[warp][lane] = sum;
    __syncthreads();
    if (warp == 0 && j < 2 * h) {
        float total = 0.f;
        for (int k = 0; k < WARPS; k++) total += sums[k][lane];
        dbias[j] = mog_store<T>(total);
    }
}

typedef void (*Kernel)(const T*, const T*, const float*, const T*, T*, float*, float*, long long, long long, long long, long long, float, mog_scalars);
typedef void (*Generated)(const T*, const T*, const unsigned char*, const float*, const T*, T*, float*, float*, long long, long long, long long, int, int, float, mog_scalars);
typedef void (*GeneratedNoBias)(const T*, const T*, const unsigned char*, const float*, T*, float*, long long, long long, int, int, float, mog_scalars);

static std::vector<float> to_host(const void* d, long long n) { std::vector<float> v(n); CK(cudaMemcpy(v.data(), d, n * 4, cudaMemcpyDeviceToHost)); return v; }
static double max_rel(const std::vector<float>& a, const std::vector<float>& b)
{
    double m = 0; for (size_t i = 0; i < a.size(); i++) m = std::max(m, std::fabs((double)a[i] - b[i]) / std::max(1e-3, std::fabs((double)b[i]))); return m;
}
static std::vector<float> bf16_to_float(const std::vector<unsigned short>& v) { std::vector<float> f(v.size()); for (size_t i = 0; i < v.size(); i++) { unsigned u = (unsigned)v[i] << 16; memcpy(&f[i], &u, 4); } return f; }

int main(int argc, char** argv)
{
    const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / V;
    const bool profile = argc > 3 && !strcmp(argv[3], "profile");
    int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    T *x, *g, *dx, *dx_ref, *bias, *dbias, *dbias_ref; float *w, *dw, *dw_ref, *partial, *dw_partial; void* copy;
    CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&dx_ref, rows * 2 * h * 2));
    CK(cudaMalloc(&copy, rows * 2 * h * 2)); CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4));
    CK(cudaMalloc(&dw, rows * 4)); CK(cudaMalloc(&dw_ref, rows * 4));
    CK(cudaMalloc(&bias, 2 * h * 2)); CK(cudaMalloc(&dbias, 2 * h * 2)); CK(cudaMalloc(&dbias_ref, 2 * h * 2));
    CK(cudaMalloc(&partial, 4096LL * 2 * h * 4)); CK(cudaMalloc(&dw_partial, 64LL * rows * 4));
    { auto hx = random_bf16(rows * 2 * h);
      CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data() + rows * h / 2, rows * h * 2, cudaMemcpyHostToDevice));
      auto hb = random_bf16(2 * h); CK(cudaMemcpy(bias, hb.data(), 2 * h * 2, cudaMemcpyHostToDevice));
      std::vector<float> hw(rows); for (long long r = 0; r < rows; r++) hw[r] = 0.125f + (r % 7) * 0.0625f;
      CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
    mog_scalars sc; memset(&sc, 0, sizeof sc);
    const long long gen_slices = (packs + 127) / 128;
    int gen_per; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&gen_per, (const void*)swiglu_bwd_bf16_wb_v16, 128, 0));
    long long gen_groups = gen_per * sms / gen_slices, gen_per_group = (rows + gen_groups - 1) / gen_groups;
    gen_groups = (rows + gen_per_group - 1) / gen_per_group;
    const long long nb_packs_per_thread = 4, nb_block = std::min<long long>(1024, std::max<long long>(64, ((packs + nb_packs_per_thread - 1) / nb_packs_per_thread + 31) / 32 * 32));
    if (profile) {                                          // one launch of each for ncu, with and without the clamp
        for (Generated gen : {swiglu_bwd_bf16_wb_v16, swiglu_bwd_bf16_wbc_v16})
            gen<<<dim3((unsigned)gen_groups, (unsigned)gen_slices), 128>>>(g, x, nullptr, w, bias, dx, dw_partial, partial, rows, h, gen_per_group, 0, 1, 7.f, sc);
        swiglu_bwd_bf16_w<<<(unsigned)rows, (unsigned)nb_block>>>(g, x, nullptr, w, dx, dw, rows, h, 0, 1, 0.f, sc);
        CK(cudaDeviceSynchronize());
        return 0;
    }
    const double xb = rows * 2 * h * 2.0, bytes = rows * h * 2.0 + 2.0 * xb + rows * 8;   // g, x, dx, w, dw
    const float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
    const double copy_bw = 2 * xb / (tc * 1e3);
    printf("{\"rows\":%lld,\"h\":%lld,\"what\":\"copy\",\"gbps\":%.0f}\n", rows, h, copy_bw);
    auto pct = [&](float us) { return 100 * bytes / (us * 1e3) / copy_bw; };
    {   // the backward without bias as the runtime launches it (a block per row), for reference in the same run
        const float t = time_us([&] { swiglu_bwd_bf16_w<<<(unsigned)rows, (unsigned)nb_block>>>(g, x, nullptr, w, dx, dw, rows, h, 0, 1, 0.f, sc); });
        printf("{\"rows\":%lld,\"h\":%lld,\"what\":\"generated_without_bias\",\"block\":%lld,\"us_alone\":%.1f,\"pct_alone\":%.1f}\n", rows, h, nb_block, t, pct(t));
        // The same kernel on a persistent grid (its blocks stride over the rows): one, two and four waves of
        // resident blocks instead of a block per row. Does a persistent grid alone cost what the bias kernel loses?
        int per; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)swiglu_bwd_bf16_w, (int)nb_block, 0));
        for (int waves : {1, 2, 4}) {
            const unsigned grid = (unsigned)std::min<long long>(rows, (long long)waves * per * sms);
            const float tp = time_us([&] { swiglu_bwd_bf16_w<<<grid, (unsigned)nb_block>>>(g, x, nullptr, w, dx, dw, rows, h, 0, 1, 0.f, sc); });
            printf("{\"rows\":%lld,\"h\":%lld,\"what\":\"generated_without_bias_persistent\",\"block\":%lld,\"resident_per_sm\":%d,\"waves\":%d,\"grid\":%u,\"us_alone\":%.1f,\"pct_alone\":%.1f}\n",
                   rows, h, nb_block, per, waves, grid, tp, pct(tp));
        }
    }
    const int gen_parts = (int)(gen_slices * 4);
    for (int clamp = 0; clamp < 2; clamp++) {
        Generated gen = clamp ? swiglu_bwd_bf16_wbc_v16 : swiglu_bwd_bf16_wb_v16;
        // The runtime's grid for this kernel: one wave of its resident blocks in whole row groups.
        CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&gen_per, (const void*)gen, 128, 0));
        gen_groups = gen_per * sms / gen_slices; gen_per_group = (rows + gen_groups - 1) / gen_groups;
        gen_groups = (rows + gen_per_group - 1) / gen_per_group;
        auto gen_launch = [&] { gen<<<dim3((unsigned)gen_groups, (unsigned)gen_slices), 128>>>(g, x, nullptr, w, bias, dx, dw_partial, partial, rows, h, gen_per_group, 0, 1, 7.f, sc); };
        auto reduce = [&](long long groups, int parts) {
            swiglu_reduce_weights<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw, rows, parts);
            swiglu_reduce_bias_bf16<<<(unsigned)((2 * h + 31) / 32), 256>>>(partial, dbias, groups, h, 0);
        };
        {
            const float alone = time_us(gen_launch), both = time_us([&] { gen_launch(); reduce(gen_groups, gen_parts); });
            CK(cudaMemset(dx, 0xff, rows * 2 * h * 2)); gen_launch(); reduce(gen_groups, gen_parts); CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(dx_ref, dx, rows * 2 * h * 2, cudaMemcpyDeviceToDevice)); CK(cudaMemcpy(dw_ref, dw, rows * 4, cudaMemcpyDeviceToDevice));
            CK(cudaMemcpy(dbias_ref, dbias, 2 * h * 2, cudaMemcpyDeviceToDevice));
            cudaFuncAttributes at; CK(cudaFuncGetAttributes(&at, (const void*)gen));
            printf("{\"rows\":%lld,\"h\":%lld,\"clamp\":%d,\"what\":\"generated\",\"regs\":%d,\"resident_per_sm\":%d,\"groups\":%lld,\"slices\":%lld,"
                   "\"us_alone\":%.1f,\"pct_alone\":%.1f,\"us\":%.1f,\"pct\":%.1f}\n", rows, h, clamp, at.numRegs, gen_per, gen_groups, gen_slices, alone, pct(alone), both, pct(both));
            fflush(stdout);
        }
        // The generated kernel on more row groups than one wave holds (its blocks then run in waves, as the
        // block-per-row kernel's do), at the price of more bias partials to add.
        for (int waves : {2, 4, 8}) {
            const long long per_group = std::max<long long>(1, gen_per_group / waves), groups = (rows + per_group - 1) / per_group;
            if (groups > 4096) break;
            auto launch = [&] { gen<<<dim3((unsigned)groups, (unsigned)gen_slices), 128>>>(g, x, nullptr, w, bias, dx, dw_partial, partial, rows, h, per_group, 0, 1, 7.f, sc); };
            const float alone = time_us(launch), both = time_us([&] { launch(); reduce(groups, gen_parts); });
            printf("{\"rows\":%lld,\"h\":%lld,\"clamp\":%d,\"what\":\"generated_waves\",\"waves\":%d,\"groups\":%lld,\"us_alone\":%.1f,\"pct_alone\":%.1f,\"us\":%.1f,\"pct\":%.1f}\n",
                   rows, h, clamp, waves, groups, alone, pct(alone), both, pct(both));
            fflush(stdout);
        }
        if (getenv("ONLY_WAVES")) continue;
        struct Candidate { const char* name; Kernel k; int p; bool even; bool ablation; };
#define K(P, DOT, SUMS, BIAS, RELOAD) (clamp ? ablation_bwd<true, P, DOT, SUMS, BIAS, RELOAD> : ablation_bwd<false, P, DOT, SUMS, BIAS, RELOAD>)
        Candidate candidates[] = {
            {"restated", K(1, SHUFFLE, true, true, false), 1, false, false},
            {"even_slices", K(1, SHUFFLE, true, true, false), 1, true, false},
            {"no_dot", K(1, NONE, true, true, false), 1, false, true},
            {"smem_dot", K(1, SMEM, true, true, false), 1, false, false},
            {"no_sums", K(1, SHUFFLE, false, true, false), 1, false, true},
            {"no_bias_no_sums", K(1, SHUFFLE, false, false, false), 1, false, true},
            {"reload", K(1, SHUFFLE, true, true, true), 1, false, false},
            {"p2", K(2, SHUFFLE, true, true, false), 2, true, false},
            {"p2_reload", K(2, SHUFFLE, true, true, true), 2, true, false},
            {"p2_reload_smem_dot", K(2, SMEM, true, true, true), 2, true, false},
            {"p4_reload", K(4, SHUFFLE, true, true, true), 4, true, false},
            {"p4_reload_smem_dot", K(4, SMEM, true, true, true), 4, true, false},
            {"rows2", clamp ? rows_bwd<true, 2, false> : rows_bwd<false, 2, false>, 1, false, false},
            {"rows2_reload", clamp ? rows_bwd<true, 2, true> : rows_bwd<false, 2, true>, 1, false, false},
            {"rows4_reload", clamp ? rows_bwd<true, 4, true> : rows_bwd<false, 4, true>, 1, false, false}};
#undef K
        for (auto& cand : candidates) {
            // Slices: 128 packs as generated, or (even) the row split into as few slices of at most 128 * P packs
            // as there can be, each of the same size; a block is that size / P threads rounded up to whole warps.
            long long slices = (packs + 128 * cand.p - 1) / (128 * cand.p), slice_packs = 128;
            if (cand.even) slice_packs = (packs + slices - 1) / slices;
            else slices = (packs + 127) / 128;
            const long long block = ((slice_packs + cand.p - 1) / cand.p + 31) / 32 * 32;
            const int parts = (int)(slices * (block / 32));
            cudaFuncAttributes at; CK(cudaFuncGetAttributes(&at, (const void*)cand.k));
            int per; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)cand.k, (int)block, 0));
            long long groups = std::max<long long>(1, std::min<long long>(std::min(rows, 4096LL), per * sms / slices));
            const long long per_group = (rows + groups - 1) / groups; groups = (rows + per_group - 1) / per_group;
            auto launch = [&] { cand.k<<<dim3((unsigned)groups, (unsigned)slices), (unsigned)block>>>(g, x, w, bias, dx, dw_partial, partial, rows, h, per_group, slice_packs, 7.f, sc); };
            const float alone = time_us(launch), both = time_us([&] { launch(); reduce(groups, parts); });
            long long dx_differ = -1; double dw_rel = -1, db_rel = -1;
            if (!cand.ablation) {
                CK(cudaMemset(dx, 0xff, rows * 2 * h * 2)); launch(); reduce(groups, parts); CK(cudaDeviceSynchronize());
                std::vector<unsigned short> a(rows * 2 * h), b(rows * 2 * h);
                CK(cudaMemcpy(a.data(), dx, a.size() * 2, cudaMemcpyDeviceToHost)); CK(cudaMemcpy(b.data(), dx_ref, b.size() * 2, cudaMemcpyDeviceToHost));
                dx_differ = 0; for (size_t i = 0; i < a.size(); i++) dx_differ += a[i] != b[i];
                dw_rel = max_rel(to_host(dw, rows), to_host(dw_ref, rows));
                std::vector<unsigned short> ha(2 * h), hb(2 * h);
                CK(cudaMemcpy(ha.data(), dbias, 4 * h, cudaMemcpyDeviceToHost)); CK(cudaMemcpy(hb.data(), dbias_ref, 4 * h, cudaMemcpyDeviceToHost));
                db_rel = max_rel(bf16_to_float(ha), bf16_to_float(hb));
            }
            printf("{\"rows\":%lld,\"h\":%lld,\"clamp\":%d,\"what\":\"%s\",\"ablation\":%s,\"packs_per_thread\":%d,\"slice_packs\":%lld,\"block\":%lld,"
                   "\"regs\":%d,\"resident_per_sm\":%d,\"groups\":%lld,\"slices\":%lld,\"us_alone\":%.1f,\"pct_alone\":%.1f,\"us\":%.1f,\"pct\":%.1f,"
                   "\"dx_bits_differing\":%lld,\"dw_max_rel\":%.2e,\"dbias_max_rel\":%.2e}\n",
                   rows, h, clamp, cand.name, cand.ablation ? "true" : "false", cand.p, slice_packs, block, at.numRegs, per, groups, slices,
                   alone, pct(alone), both, pct(both), dx_differ, dw_rel, db_rel);
            fflush(stdout);
        }
    }
    {   // the bias reduction alone: generated, 4 accumulators a warp, 32 warps a block (the generated kernel's partials)
        const unsigned grid = (unsigned)((2 * h + 31) / 32);
        const float t_gen = time_us([&] { swiglu_reduce_bias_bf16<<<grid, 256>>>(partial, dbias, gen_groups, h, 0); });
        const float t_u4 = time_us([&] { reduce_bias_variant<8, 4><<<grid, 256>>>(partial, dbias, gen_groups, h); });
        const float t_w32 = time_us([&] { reduce_bias_variant<32, 1><<<grid, 1024>>>(partial, dbias, gen_groups, h); });
        const float t_w32u4 = time_us([&] { reduce_bias_variant<32, 4><<<grid, 1024>>>(partial, dbias, gen_groups, h); });
        const float t_w = time_us([&] { swiglu_reduce_weights<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw, rows, gen_parts); });
        printf("{\"rows\":%lld,\"h\":%lld,\"what\":\"reductions\",\"partials\":%lld,\"bias_generated_us\":%.1f,\"bias_8w_4acc_us\":%.1f,"
               "\"bias_32w_us\":%.1f,\"bias_32w_4acc_us\":%.1f,\"weights_us\":%.1f}\n", rows, h, gen_groups, t_gen, t_u4, t_w32, t_w32u4, t_w);
    }
    return 0;
}
