// Measurement harness 9 (not product code): is the backward with bias (mog_gated_backward_bias, 80 % of copy bandwidth
// at GPT-OSS width; ncu: DRAM 78 %, 68 % of stalls on global loads) bound by the loads a warp has in flight? Each
// thread of the generated kernel walks its group's rows one at a time with three 16-byte loads per row, and neither
// more resident warps (harness 7) nor `#pragma unroll 2` (harness 6) moved it. Candidates, same grid, same maths,
// same partial sums (so dx, dw and dbias must agree bit for bit):
//   prefetch — the next row's packs loaded into registers while this row is computed (two rows in flight);
//   strided — the generated loop with row group x taking rows x, x + G, x + 2G, ... (G groups) instead of a
//             contiguous run: the blocks resident at one time then work on neighbouring rows, as a block-per-row grid
//             does, instead of on rows spread over the whole tensor;
//   pipe<S> — a ring of S rows in shared memory filled by cp.async (each thread copies and later reads only its own
//             16-byte slots, so a per-thread cp.async.wait_group orders them without a barrier): S - 1 rows in flight.
// Each is timed alone and with the two reductions (timed alone too, "what":"reductions") (as the runtime launches them), at the runtime's grid (one wave of
// resident blocks in whole row groups) and twice that. bf16 SwiGLU, halves layout.
// Usage: bias-pipeline ROWS HIDDEN
#include MOG_SOURCE
#include "timing.cuh"
typedef mog_bf16 T;
constexpr int V = 8;

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" :: "r"((unsigned)__cvta_generic_to_shared(smem)), "l"(gmem));
}
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" :: "r"((unsigned)__cvta_generic_to_shared(smem)), "l"(gmem));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;\n" :: "n"(N)); }

__device__ __forceinline__ void unpack(const uint4& q, float* v)
{
    const T* t = reinterpret_cast<const T*>(&q);
#pragma unroll
    for (int k = 0; k < V; k++) v[k] = mog_load(t[k]);
}

// One row of one pack: the generated kernel's per-element step (clamp, bias after it, maths, dot, sums, store).
template <bool W, bool C>
__device__ __forceinline__ float row_step(const uint4& qa, const uint4& qb, const uint4& qg, float wr, const float* ba,
                                          const float* bb, float* sum_a, float* sum_b, T* dx_row, long long col,
                                          long long h, float c, const mog_scalars& s)
{
    float a[V], b[V], gg[V], da[V], db[V], dot = 0.f;
    unpack(qa, a); unpack(qb, b); unpack(qg, gg);
#pragma unroll
    for (int k = 0; k < V; k++) {
        bool pass_a = true, pass_b = true;
        if (C) {
            if (a[k] > c) { a[k] = c; pass_a = false; }
            if (b[k] > c) { b[k] = c; pass_b = false; } else if (b[k] < -c) { b[k] = -c; pass_b = false; }
        }
        a[k] += ba[k]; b[k] += bb[k];
        float d_gate, d_linear;
        const float value = mog_value_and_gradients<true>(a[k], b[k], gg[k] * wr, s, d_gate, d_linear);
        if (W) dot += value * gg[k];
        sum_a[k] += d_gate; sum_b[k] += d_linear;
        da[k] = pass_a ? d_gate : 0.f; db[k] = pass_b ? d_linear : 0.f;
    }
    mog_store_pair(dx_row, col, V, h, 0, 1, da, db);
    return dot;
}

template <bool W>
__device__ __forceinline__ void finish_row(float dot, float* dw_partial, long long rows, long long r)
{
    if (!W) return;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    if (lane == 0) dw_partial[((long long)blockIdx.y * warps + warp) * rows + r] = dot;
}

__device__ __forceinline__ void write_sums(const float* sum_a, const float* sum_b, float* dbias_partial, long long col, long long h, bool active)
{
    if (!active) return;
#pragma unroll
    for (int k = 0; k < V; k++) {
        dbias_partial[blockIdx.x * 2 * h + col + k] = sum_a[k];
        dbias_partial[blockIdx.x * 2 * h + h + col + k] = sum_b[k];
    }
}

template <bool W, bool C>
__global__ void __launch_bounds__(128) prefetch_bwd(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ w,
    const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw_partial, float* __restrict__ dbias_partial,
    long long rows, long long h, long long rows_per_group, float c, mog_scalars s)
{
    const long long packs = h / V, p = (long long)blockIdx.y * blockDim.x + threadIdx.x, col = p * V;
    const bool active = p < packs;
    const long long first = blockIdx.x * rows_per_group, last = first + rows_per_group < rows ? first + rows_per_group : rows;
    float sum_a[V], sum_b[V], ba[V], bb[V];
#pragma unroll
    for (int k = 0; k < V; k++) { sum_a[k] = 0.f; sum_b[k] = 0.f; ba[k] = 0.f; bb[k] = 0.f; }
    if (active) mog_load_pair(bias, col, V, h, 0, 1, ba, bb);
    uint4 qa = {}, qb = {}, qg = {}; float wr = 1.f;
    if (active && first < last) {
        qa = *reinterpret_cast<const uint4*>(x + first * 2 * h + col); qb = *reinterpret_cast<const uint4*>(x + first * 2 * h + h + col);
        qg = *reinterpret_cast<const uint4*>(g + first * h + col); if (W) wr = w[first];
    }
    for (long long r = first; r < last; r++) {
        uint4 na = {}, nb = {}, ng = {}; float nw = 1.f;
        if (active && r + 1 < last) {
            na = *reinterpret_cast<const uint4*>(x + (r + 1) * 2 * h + col); nb = *reinterpret_cast<const uint4*>(x + (r + 1) * 2 * h + h + col);
            ng = *reinterpret_cast<const uint4*>(g + (r + 1) * h + col); if (W) nw = w[r + 1];
        }
        float dot = 0.f;
        if (active) dot = row_step<W, C>(qa, qb, qg, wr, ba, bb, sum_a, sum_b, dx + r * 2 * h, col, h, c, s);
        finish_row<W>(dot, dw_partial, rows, r);
        qa = na; qb = nb; qg = ng; wr = nw;
    }
    write_sums(sum_a, sum_b, dbias_partial, col, h, active);
}

template <bool W, bool C>
__global__ void __launch_bounds__(128) strided_bwd(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ w,
    const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw_partial, float* __restrict__ dbias_partial,
    long long rows, long long h, long long rows_per_group, float c, mog_scalars s)
{
    const long long packs = h / V, p = (long long)blockIdx.y * blockDim.x + threadIdx.x, col = p * V;
    const bool active = p < packs;
    float sum_a[V], sum_b[V], ba[V], bb[V];
#pragma unroll
    for (int k = 0; k < V; k++) { sum_a[k] = 0.f; sum_b[k] = 0.f; ba[k] = 0.f; bb[k] = 0.f; }
    if (active) mog_load_pair(bias, col, V, h, 0, 1, ba, bb);
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        float dot = 0.f;
        if (active) {
            const uint4 qa = *reinterpret_cast<const uint4*>(x + r * 2 * h + col), qb = *reinterpret_cast<const uint4*>(x + r * 2 * h + h + col);
            const uint4 qg = *reinterpret_cast<const uint4*>(g + r * h + col);
            dot = row_step<W, C>(qa, qb, qg, W ? w[r] : 1.f, ba, bb, sum_a, sum_b, dx + r * 2 * h, col, h, c, s);
        }
        finish_row<W>(dot, dw_partial, rows, r);
    }
    write_sums(sum_a, sum_b, dbias_partial, col, h, active);
}

// Shared memory: S stages of [gate | linear | grad] packs, blockDim.x each, then S · blockDim.x weights.
template <bool W, bool C, int S>
__global__ void __launch_bounds__(128) pipe_bwd(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ w,
    const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw_partial, float* __restrict__ dbias_partial,
    long long rows, long long h, long long rows_per_group, float c, mog_scalars s)
{
    extern __shared__ uint4 ring[];
    float* wring = reinterpret_cast<float*>(ring + S * 3 * blockDim.x);
    const int t = threadIdx.x, bd = blockDim.x;
    const long long packs = h / V, p = (long long)blockIdx.y * blockDim.x + threadIdx.x, col = p * V;
    const bool active = p < packs;
    const long long first = blockIdx.x * rows_per_group, last = first + rows_per_group < rows ? first + rows_per_group : rows;
    float sum_a[V], sum_b[V], ba[V], bb[V];
#pragma unroll
    for (int k = 0; k < V; k++) { sum_a[k] = 0.f; sum_b[k] = 0.f; ba[k] = 0.f; bb[k] = 0.f; }
    if (active) mog_load_pair(bias, col, V, h, 0, 1, ba, bb);
    auto issue = [&](long long r, int stage) {
        if (!active || r >= last) return;
        cp_async16(&ring[(stage * 3 + 0) * bd + t], x + r * 2 * h + col);
        cp_async16(&ring[(stage * 3 + 1) * bd + t], x + r * 2 * h + h + col);
        cp_async16(&ring[(stage * 3 + 2) * bd + t], g + r * h + col);
        if (W) cp_async4(&wring[stage * bd + t], w + r);
    };
#pragma unroll
    for (int i = 0; i < S - 1; i++) { issue(first + i, i); cp_commit(); }
    int stage = 0;
    for (long long r = first; r < last; r++) {
        issue(r + S - 1, stage == 0 ? S - 1 : stage - 1);   // the slot row r - 1 used, read into registers already
        cp_commit();
        cp_wait<S - 1>();                                    // this thread's copies of row r have landed
        float dot = 0.f;
        if (active) {
            const uint4 qa = ring[(stage * 3 + 0) * bd + t], qb = ring[(stage * 3 + 1) * bd + t], qg = ring[(stage * 3 + 2) * bd + t];
            dot = row_step<W, C>(qa, qb, qg, W ? wring[stage * bd + t] : 1.f, ba, bb, sum_a, sum_b, dx + r * 2 * h, col, h, c, s);
        }
        finish_row<W>(dot, dw_partial, rows, r);
        stage = stage + 1 == S ? 0 : stage + 1;
    }
    write_sums(sum_a, sum_b, dbias_partial, col, h, active);
}

typedef void (*Kernel)(const T*, const T*, const float*, const T*, T*, float*, float*, long long, long long, long long, float, mog_scalars);
typedef void (*Generated)(const T*, const T*, const unsigned char*, const float*, const T*, T*, float*, float*, long long, long long, long long, int, int, float, mog_scalars);

int main(int argc, char** argv)
{
    const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / V, block = 128, slices = (packs + block - 1) / block;
    const int parts = (int)(slices * (block / 32));
    int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    T *x, *g, *dx, *dx_ref, *bias, *dbias, *dbias_ref; float *w, *dw, *dw_ref, *partial, *dw_partial; void* copy;
    CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&dx_ref, rows * 2 * h * 2));
    CK(cudaMalloc(&copy, rows * 2 * h * 2)); CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4));
    CK(cudaMalloc(&dw, rows * 4)); CK(cudaMalloc(&dw_ref, rows * 4));
    CK(cudaMalloc(&bias, 2 * h * 2)); CK(cudaMalloc(&dbias, 2 * h * 2)); CK(cudaMalloc(&dbias_ref, 2 * h * 2));
    CK(cudaMalloc(&partial, 8192LL * 2 * h * 4)); CK(cudaMalloc(&dw_partial, (long long)parts * rows * 4));
    { auto hx = random_bf16(rows * 2 * h);
      CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data() + rows * h / 2, rows * h * 2, cudaMemcpyHostToDevice));
      auto hb = random_bf16(2 * h); CK(cudaMemcpy(bias, hb.data(), 2 * h * 2, cudaMemcpyHostToDevice));
      std::vector<float> hw(rows); for (long long r = 0; r < rows; r++) hw[r] = 0.125f + (r % 7) * 0.0625f;
      CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
    mog_scalars sc; memset(&sc, 0, sizeof sc);
    const double xb = rows * 2 * h * 2.0;
    const float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
    const double copy_bw = 2 * xb / (tc * 1e3);
    printf("{\"rows\":%lld,\"h\":%lld,\"what\":\"copy\",\"gbps\":%.0f}\n", rows, h, copy_bw);

    struct Candidate { const char* name; Kernel k; int stages; };
    // The agreement launches use the generated kernel's grid, so the bias partials are summed in the same order.
    int generated_per; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&generated_per, (const void*)swiglu_bwd_bf16_wb_v16, (int)block, 0));
    {   // The two reductions alone, at the generated kernel's runtime grid.
        const long long groups = generated_per * sms / slices;
        const float t = time_us([&] {
            swiglu_reduce_weights<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw, rows, parts);
            swiglu_reduce_bias_bf16<<<(unsigned)((2 * h + 31) / 32), 256>>>(partial, dbias, groups, h, 0); });
        const float tw = time_us([&] { swiglu_reduce_weights<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw, rows, parts); });
        printf("{\"rows\":%lld,\"h\":%lld,\"what\":\"reductions\",\"groups\":%lld,\"us\":%.1f,\"us_weights_only\":%.1f}\n", rows, h, groups, t, tw);
    }
    for (int clamp = 0; clamp < 2; clamp++) {
        Generated generated = clamp ? swiglu_bwd_bf16_wbc_v16 : swiglu_bwd_bf16_wb_v16;
        Candidate candidates[] = {
            {"generated", nullptr, 0},
            {"strided", clamp ? strided_bwd<true, true> : strided_bwd<true, false>, 0},
            {"prefetch", clamp ? prefetch_bwd<true, true> : prefetch_bwd<true, false>, 0},
            {"pipe2", clamp ? pipe_bwd<true, true, 2> : pipe_bwd<true, false, 2>, 2},
            {"pipe3", clamp ? pipe_bwd<true, true, 3> : pipe_bwd<true, false, 3>, 3},
            {"pipe4", clamp ? pipe_bwd<true, true, 4> : pipe_bwd<true, false, 4>, 4},
            {"pipe6", clamp ? pipe_bwd<true, true, 6> : pipe_bwd<true, false, 6>, 6}};
        const double bytes = rows * h * 2.0 + 2.0 * xb + rows * 8;    // g, x, dx, w, dw
        for (auto& cand : candidates) {
            const void* f = cand.k ? (const void*)cand.k : (const void*)generated;
            const size_t smem = cand.stages * block * (3 * 16 + 4);
            if (smem > 48 * 1024) CK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
            cudaFuncAttributes at; CK(cudaFuncGetAttributes(&at, f));
            int per; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, f, (int)block, smem));
            const long long wave = (long long)per * sms / slices;
            for (long long want : {wave, 2 * wave}) {
                long long groups = want < 1 ? 1 : (want > rows ? rows : want);
                const long long per_group = (rows + groups - 1) / groups; groups = (rows + per_group - 1) / per_group;
                auto main_kernel = [&] {
                    if (cand.k) cand.k<<<dim3((unsigned)groups, (unsigned)slices), (unsigned)block, smem>>>(g, x, w, bias, dx, dw_partial, partial, rows, h, per_group, 7.f, sc);
                    else generated<<<dim3((unsigned)groups, (unsigned)slices), (unsigned)block>>>(g, x, nullptr, w, bias, dx, dw_partial, partial, rows, h, per_group, 0, 1, 7.f, sc);
                };
                auto reductions = [&] {
                    swiglu_reduce_weights<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw, rows, parts);
                    swiglu_reduce_bias_bf16<<<(unsigned)((2 * h + 31) / 32), 256>>>(partial, dbias, groups, h, 0);
                };
                const float alone = time_us(main_kernel);
                const float with_reductions = time_us([&] { main_kernel(); reductions(); });
                // Agreement with the generated kernel (same groups, so the same sums in the same order).
                long long dx_differ = -1, dw_differ = -1, db_differ = -1;
                if (want == wave) {
                    const long long ref_per_group = (rows + generated_per * sms / slices - 1) / (generated_per * sms / slices);
                    const long long ref_groups = (rows + ref_per_group - 1) / ref_per_group;
                    CK(cudaMemset(dx, 0xff, rows * 2 * h * 2));
                    if (cand.k) cand.k<<<dim3((unsigned)ref_groups, (unsigned)slices), (unsigned)block, smem>>>(g, x, w, bias, dx, dw_partial, partial, rows, h, ref_per_group, 7.f, sc);
                    else generated<<<dim3((unsigned)ref_groups, (unsigned)slices), (unsigned)block>>>(g, x, nullptr, w, bias, dx, dw_partial, partial, rows, h, ref_per_group, 0, 1, 7.f, sc);
                    swiglu_reduce_weights<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw, rows, parts);
                    swiglu_reduce_bias_bf16<<<(unsigned)((2 * h + 31) / 32), 256>>>(partial, dbias, ref_groups, h, 0);
                    CK(cudaDeviceSynchronize());
                }
                if (!cand.k && want == wave) {
                    CK(cudaMemcpy(dx_ref, dx, rows * 2 * h * 2, cudaMemcpyDeviceToDevice)); CK(cudaMemcpy(dw_ref, dw, rows * 4, cudaMemcpyDeviceToDevice));
                    CK(cudaMemcpy(dbias_ref, dbias, 2 * h * 2, cudaMemcpyDeviceToDevice));
                } else if (want == wave) {
                    auto differing = [](const void* a, const void* b, long long n) {
                        std::vector<unsigned char> ha(n), hb(n); CK(cudaMemcpy(ha.data(), a, n, cudaMemcpyDeviceToHost)); CK(cudaMemcpy(hb.data(), b, n, cudaMemcpyDeviceToHost));
                        long long d = 0; for (long long i = 0; i < n; i++) d += ha[i] != hb[i]; return d; };
                    dx_differ = differing(dx, dx_ref, rows * 2 * h * 2); dw_differ = differing(dw, dw_ref, rows * 4); db_differ = differing(dbias, dbias_ref, 2 * h * 2);
                }
                printf("{\"rows\":%lld,\"h\":%lld,\"clamp\":%d,\"what\":\"%s\",\"regs\":%d,\"smem\":%zu,\"resident_per_sm\":%d,\"groups\":%lld,\"runtime_choice\":%s,"
                       "\"us_alone\":%.1f,\"pct_alone\":%.1f,\"us\":%.1f,\"pct\":%.1f,\"dx_bytes_differing\":%lld,\"dw_bytes_differing\":%lld,\"dbias_bytes_differing\":%lld}\n",
                       rows, h, clamp, cand.name, at.numRegs, smem, per, groups, want == wave ? "true" : "false", alone,
                       100 * bytes / (alone * 1e3) / copy_bw, with_reductions, 100 * bytes / (with_reductions * 1e3) / copy_bw, dx_differ, dw_differ, db_differ);
                fflush(stdout);
            }
        }
    }
    return 0;
}
