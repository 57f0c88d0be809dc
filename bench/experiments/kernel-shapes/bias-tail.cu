// Measurement harness 15 (not product code): is the backward with bias's persistent grid slow because its blocks
// finish unevenly? The generated kernel (mog_gated_backward_bias) gives every block the same number of rows and
// launches one wave of them (the deterministic bias sums need a fixed row group per partial). If some SMs move bytes
// faster than others, the kernel lasts as long as the slowest block, where a block per row (the backward without
// bias) lets fast SMs take more rows. Harness 12 showed the backward WITHOUT bias losing 8 points on such a grid.
//  1. Timeline: each block's SM, start and end (%globaltimer) for the generated kernel at the runtime's grid (a
//     wrapper kernel calling the generated device function), summarised as the span and when each SM went idle.
//  2. A tail: the same kernel with the rows split into one wave of big groups holding (1 - f) of the rows and, after
//     them in launch order, many small groups of R2 rows that the hardware hands to whichever SM frees first. Every
//     group still owns a fixed run of rows and writes its own partial, so the result is the same run to run; the
//     price is more partials for the bias reduction. f = 0 restates the generated mapping on a 1-D grid.
// dx must agree bit for bit with the generated kernel; dw and dbias to float rounding (the groups change the order).
// Usage: bias-tail ROWS HIDDEN   (JSON lines)
#include MOG_SOURCE
#include "timing.cuh"
#include <cmath>
#include <string>
typedef mog_bf16 T;
constexpr int V = 8;

__device__ __forceinline__ unsigned long long now_ns() { unsigned long long t; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); return t; }
__device__ __forceinline__ unsigned sm_id() { unsigned id; asm volatile("mov.u32 %0, %%smid;" : "=r"(id)); return id; }

// Block b's record: [3b] SM, [3b + 1] start, [3b + 2] end (ns).
__device__ __forceinline__ void record(unsigned long long* timeline, long long b, unsigned long long start)
{
    __syncthreads();
    if (threadIdx.x == 0) { timeline[3 * b] = sm_id(); timeline[3 * b + 1] = start; timeline[3 * b + 2] = now_ns(); }
}

// The generated kernel's device function, timed per block.
template <bool C>
__global__ void generated_timeline(const T* g, const T* x, const float* w, const T* bias, T* dx, float* dw_partial, float* dbias_partial,
    long long rows, long long h, long long rows_per_group, float c, mog_scalars s, unsigned long long* timeline)
{
    const unsigned long long start = now_ns();
    mog_gated_backward_bias<T, true, C, false, true>(g, x, nullptr, w, bias, dx, dw_partial, dbias_partial, rows, h, rows_per_group, 0, 1, c, s);
    record(timeline, blockIdx.x + (long long)blockIdx.y * gridDim.x, start);
}

// The generated kernel's body on a 1-D grid of slices × (big groups, then tail groups): block b takes slice b % S of
// group b / S; groups [0, big_groups) hold big_rows rows each from row 0, the rest tail_rows each after them.
template <bool C, bool TIMELINE>
__global__ void __launch_bounds__(128) tail_bwd(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ w,
    const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw_partial, float* __restrict__ dbias_partial,
    long long rows, long long h, long long slices, long long big_groups, long long big_rows, long long tail_rows,
    float c, mog_scalars s, unsigned long long* timeline)
{
    const unsigned long long start = TIMELINE ? now_ns() : 0;
    const long long slice = blockIdx.x % slices, group = blockIdx.x / slices;
    const long long packs = h / V, p = slice * blockDim.x + threadIdx.x, col = p * V;
    const bool active = p < packs;
    const int n = active ? V : 0;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const long long big_end = big_groups * big_rows < rows ? big_groups * big_rows : rows;
    const long long first = group < big_groups ? group * big_rows : big_end + (group - big_groups) * tail_rows;
    const long long span = group < big_groups ? big_rows : tail_rows;
    const long long limit = group < big_groups ? big_end : rows;
    const long long last = first + span < limit ? first + span : limit;
    float sum_a[V], sum_b[V], ba[V], bb[V];
#pragma unroll
    for (int k = 0; k < V; k++) { sum_a[k] = 0.f; sum_b[k] = 0.f; ba[k] = 0.f; bb[k] = 0.f; }
    if (active) mog_load_pair(bias, col, n, h, 0, 1, ba, bb);
    for (long long r = first; r < last; r++) {
        float dot = 0.f;
        if (active) {
            const float wr = w[r];
            float a[V], b[V], gg[V], da[V], db[V];
            unsigned char qa[V], qb[V];
            mog_load_backward_input<T, false>(x + r * 2 * h, nullptr, col, n, h, 0, 1, a, b, qa, qb);
            mog_load_pack(g + r * h + col, n, 1, gg);
#pragma unroll
            for (int k = 0; k < V; k++) {
                float gate, linear, d_gate, d_linear;
                bool pass_a, pass_b;
                mog_clamp_backward_input<C, false>(a[k], b[k], qa[k], qb[k], c, gate, linear, pass_a, pass_b);
                gate += ba[k]; linear += bb[k];
                const float value = mog_value_and_gradients<mog_fast_maths<T>::value>(gate, linear, gg[k] * wr, s, d_gate, d_linear);
                dot += value * gg[k];
                sum_a[k] += d_gate; sum_b[k] += d_linear;
                da[k] = pass_a ? d_gate : 0.f;
                db[k] = pass_b ? d_linear : 0.f;
            }
            mog_store_pair(dx + r * 2 * h, col, n, h, 0, 1, da, db);
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
        if (lane == 0) dw_partial[(slice * warps + warp) * rows + r] = dot;
    }
    if (active)
#pragma unroll
        for (int k = 0; k < V; k++) {
            dbias_partial[group * 2 * h + col + k] = sum_a[k];
            dbias_partial[group * 2 * h + h + col + k] = sum_b[k];
        }
    if (TIMELINE) record(timeline, blockIdx.x, start);
}

static std::vector<float> to_host(const void* d, long long n) { std::vector<float> v(n); CK(cudaMemcpy(v.data(), d, n * 4, cudaMemcpyDeviceToHost)); return v; }
static double max_rel(const std::vector<float>& a, const std::vector<float>& b)
{
    double m = 0; for (size_t i = 0; i < a.size(); i++) m = std::max(m, std::fabs((double)a[i] - b[i]) / std::max(1e-3, std::fabs((double)b[i]))); return m;
}
static std::vector<float> bf16_to_float(const std::vector<unsigned short>& v) { std::vector<float> f(v.size()); for (size_t i = 0; i < v.size(); i++) { unsigned u = (unsigned)v[i] << 16; memcpy(&f[i], &u, 4); } return f; }

// The timeline of one launch as JSON fields: span (first start to last end), when the SMs went idle (their last
// block's end: earliest, median, as a share of the span), the blocks' mean duration, and the SMs used.
static std::string summarise(unsigned long long* d_timeline, long long blocks)
{
    std::vector<unsigned long long> t(3 * blocks);
    CK(cudaMemcpy(t.data(), d_timeline, t.size() * 8, cudaMemcpyDeviceToHost));
    unsigned long long t0 = ~0ULL, t1 = 0; double dur = 0;
    std::vector<unsigned long long> sm_end(1024, 0);
    for (long long b = 0; b < blocks; b++) {
        t0 = std::min(t0, t[3 * b + 1]); t1 = std::max(t1, t[3 * b + 2]); dur += t[3 * b + 2] - t[3 * b + 1];
        sm_end[t[3 * b]] = std::max(sm_end[t[3 * b]], t[3 * b + 2]);
    }
    std::vector<double> idle;
    for (auto e : sm_end) if (e) idle.push_back((double)(e - t0));
    std::sort(idle.begin(), idle.end());
    const double span = (double)(t1 - t0);
    char buf[512];
    snprintf(buf, sizeof buf, "\"span_us\":%.1f,\"sms\":%zu,\"sm_idle_first_pct\":%.1f,\"sm_idle_p10_pct\":%.1f,\"sm_idle_median_pct\":%.1f,\"block_mean_us\":%.1f",
             span / 1e3, idle.size(), 100 * idle.front() / span, 100 * idle[idle.size() / 10] / span, 100 * idle[idle.size() / 2] / span, dur / blocks / 1e3);
    return buf;
}

int main(int argc, char** argv)
{
    const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / V;
    int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    T *x, *g, *dx, *dx_ref, *bias, *dbias, *dbias_ref; float *w, *dw, *dw_ref, *partial, *dw_partial; void* copy;
    unsigned long long* timeline;
    CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&dx_ref, rows * 2 * h * 2));
    CK(cudaMalloc(&copy, rows * 2 * h * 2)); CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4));
    CK(cudaMalloc(&dw, rows * 4)); CK(cudaMalloc(&dw_ref, rows * 4));
    CK(cudaMalloc(&bias, 2 * h * 2)); CK(cudaMalloc(&dbias, 2 * h * 2)); CK(cudaMalloc(&dbias_ref, 2 * h * 2));
    CK(cudaMalloc(&partial, 8192LL * 2 * h * 4)); CK(cudaMalloc(&dw_partial, 64LL * rows * 4));
    CK(cudaMalloc(&timeline, 3 * 8 * 65536LL));
    { auto hx = random_bf16(rows * 2 * h);
      CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data() + rows * h / 2, rows * h * 2, cudaMemcpyHostToDevice));
      auto hb = random_bf16(2 * h); CK(cudaMemcpy(bias, hb.data(), 2 * h * 2, cudaMemcpyHostToDevice));
      std::vector<float> hw(rows); for (long long r = 0; r < rows; r++) hw[r] = 0.125f + (r % 7) * 0.0625f;
      CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
    mog_scalars sc; memset(&sc, 0, sizeof sc);
    const double xb = rows * 2 * h * 2.0, bytes = rows * h * 2.0 + 2.0 * xb + rows * 8;   // g, x, dx, w, dw
    const float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
    const double copy_bw = 2 * xb / (tc * 1e3);
    printf("{\"rows\":%lld,\"h\":%lld,\"what\":\"copy\",\"gbps\":%.0f}\n", rows, h, copy_bw);
    auto pct = [&](float us) { return 100 * bytes / (us * 1e3) / copy_bw; };
    const long long slices = (packs + 127) / 128;
    const int warps = 4, parts = (int)(slices * warps);

    for (int clamp = 0; clamp < 2; clamp++) {
        auto gen = clamp ? swiglu_bwd_bf16_wbc_v16 : swiglu_bwd_bf16_wb_v16;
        int per; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)gen, 128, 0));
        long long groups = per * sms / slices, per_group = (rows + groups - 1) / groups;   // the runtime's grid
        groups = (rows + per_group - 1) / per_group;
        auto reduce = [&](long long partials) {
            swiglu_reduce_weights<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw, rows, parts);
            swiglu_reduce_bias_bf16<<<(unsigned)((2 * h + 31) / 32), 256>>>(partial, dbias, partials, h, 0);
        };
        auto gen_launch = [&] { gen<<<dim3((unsigned)groups, (unsigned)slices), 128>>>(g, x, nullptr, w, bias, dx, dw_partial, partial, rows, h, per_group, 0, 1, 7.f, sc); };
        const float alone = time_us(gen_launch), both = time_us([&] { gen_launch(); reduce(groups); });
        CK(cudaMemset(dx, 0xff, rows * 2 * h * 2)); gen_launch(); reduce(groups); CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(dx_ref, dx, rows * 2 * h * 2, cudaMemcpyDeviceToDevice)); CK(cudaMemcpy(dw_ref, dw, rows * 4, cudaMemcpyDeviceToDevice));
        CK(cudaMemcpy(dbias_ref, dbias, 2 * h * 2, cudaMemcpyDeviceToDevice));
        auto gen_timed = clamp ? generated_timeline<true> : generated_timeline<false>;
        for (int i = 0; i < 3; i++)   // the last of three launches back to back, as in the timing loop
            gen_timed<<<dim3((unsigned)groups, (unsigned)slices), 128>>>(g, x, w, bias, dx, dw_partial, partial, rows, h, per_group, 7.f, sc, timeline);
        CK(cudaDeviceSynchronize());
        printf("{\"rows\":%lld,\"h\":%lld,\"clamp\":%d,\"what\":\"generated\",\"resident_per_sm\":%d,\"groups\":%lld,\"slices\":%lld,\"rows_per_group\":%lld,"
               "\"us_alone\":%.1f,\"pct_alone\":%.1f,\"us\":%.1f,\"pct\":%.1f,%s}\n",
               rows, h, clamp, per, groups, slices, per_group, alone, pct(alone), both, pct(both), summarise(timeline, groups * slices).c_str());
        fflush(stdout);

        // The restated kernel's own residency sets its one wave (its registers may differ from the generated one's).
        auto k = clamp ? tail_bwd<true, false> : tail_bwd<false, false>;
        auto kt = clamp ? tail_bwd<true, true> : tail_bwd<false, true>;
        int tail_per; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&tail_per, (const void*)k, 128, 0));
        cudaFuncAttributes at; CK(cudaFuncGetAttributes(&at, (const void*)k));
        for (double f : {0.0, 0.05, 0.1, 0.15, 0.2, 0.3}) {
            for (long long tail_rows : {2LL, 4LL, 8LL, 16LL, 32LL}) {
                if (f == 0.0 && tail_rows != 2) continue;
                const long long big_rows = std::max<long long>(1, (long long)((1.0 - f) * rows / (tail_per * sms / slices)));
                const long long big_groups = std::min<long long>(tail_per * sms / slices, (rows + big_rows - 1) / big_rows);
                const long long rest = std::max<long long>(0, rows - big_groups * big_rows);
                const long long tail_groups = (rest + tail_rows - 1) / tail_rows, all = big_groups + tail_groups;
                if (all > 8192 || all * slices * 3 > 3 * 65536) continue;
                const unsigned grid = (unsigned)(all * slices);
                auto launch = [&] { k<<<grid, 128>>>(g, x, w, bias, dx, dw_partial, partial, rows, h, slices, big_groups, big_rows, tail_rows, 7.f, sc, nullptr); };
                const float t_alone = time_us(launch), t_both = time_us([&] { launch(); reduce(all); });
                CK(cudaMemset(dx, 0xff, rows * 2 * h * 2)); launch(); reduce(all); CK(cudaDeviceSynchronize());
                std::vector<unsigned short> a(rows * 2 * h), b(rows * 2 * h);
                CK(cudaMemcpy(a.data(), dx, a.size() * 2, cudaMemcpyDeviceToHost)); CK(cudaMemcpy(b.data(), dx_ref, b.size() * 2, cudaMemcpyDeviceToHost));
                long long differ = 0; for (size_t i = 0; i < a.size(); i++) differ += a[i] != b[i];
                const double dw_rel = max_rel(to_host(dw, rows), to_host(dw_ref, rows));
                std::vector<unsigned short> ha(2 * h), hb(2 * h);
                CK(cudaMemcpy(ha.data(), dbias, 4 * h, cudaMemcpyDeviceToHost)); CK(cudaMemcpy(hb.data(), dbias_ref, 4 * h, cudaMemcpyDeviceToHost));
                const double db_rel = max_rel(bf16_to_float(ha), bf16_to_float(hb));
                for (int i = 0; i < 3; i++)
                    kt<<<grid, 128>>>(g, x, w, bias, dx, dw_partial, partial, rows, h, slices, big_groups, big_rows, tail_rows, 7.f, sc, timeline);
                CK(cudaDeviceSynchronize());
                printf("{\"rows\":%lld,\"h\":%lld,\"clamp\":%d,\"what\":\"tail\",\"regs\":%d,\"resident_per_sm\":%d,\"tail_share\":%.2f,\"tail_rows\":%lld,\"big_groups\":%lld,\"big_rows\":%lld,"
                       "\"tail_groups\":%lld,\"us_alone\":%.1f,\"pct_alone\":%.1f,\"us\":%.1f,\"pct\":%.1f,\"dx_bits_differing\":%lld,\"dw_max_rel\":%.2e,"
                       "\"dbias_max_rel\":%.2e,%s}\n", rows, h, clamp, at.numRegs, tail_per, f, tail_rows, big_groups, big_rows, tail_groups, t_alone, pct(t_alone), t_both, pct(t_both),
                       differ, dw_rel, db_rel, summarise(timeline, (long long)grid).c_str());
                fflush(stdout);
            }
        }
    }
    return 0;
}
