// Measurement harness 14 (not product code): the fused unpermute with probs (gather-reduce, moe_unpermute_bf16_v16)
// runs at 89 % of copy bandwidth at GPT-OSS width but 76 % at Mixtral's and 66 % at DeepSeek-V3's (bench, three runs).
// A warp task is (token, 32 packs of its row); a warp walks the token's map row, then loads up to MOE_COPY_CHUNK = 4
// copies' packs before summing them; the runtime's grid is capped at 32 blocks of 256 per SM, so warps grid-stride
// over the tasks. Candidates, all bit-identical to the generated kernel (same sums in the same order):
//   generated, uncapped — the generated kernel with one task per warp (a grid of all the tasks);
//   multi<S, CH> — a task of S x 32 packs of the row (lane: packs c, c + 32, ...), CH copies' loads in flight at once,
//                  so each map walk feeds S times the loads; at the runtime's grid and uncapped.
// Routing as the bench's: T = 8192 tokens, top-k of random logits (distinct experts), rows expert-major and
// token-ascending; probs float. Usage: unpermute-tasks HIDDEN EXPERTS TOPK (JSON lines)
#include MOG_ROUTING_SOURCE
#include "timing.cuh"

template <typename C, int VEC, int S, int CH>
__global__ void __launch_bounds__(256) unpermute_multi(const typename C::elem* __restrict__ permuted, const int* __restrict__ row_map,
    const typename C::acc* __restrict__ probs, typename C::elem* __restrict__ out, i64 num_tokens, i64 num_rows, int num_experts, i64 hidden)
{
    typedef typename C::acc A;
    typedef Pack<typename C::elem, VEC> P;
    const i64 packs = hidden / VEC;
    const P* rows = reinterpret_cast<const P*>(permuted);
    P* destination = reinterpret_cast<P*>(out);
    const WarpTasks tasks(num_tokens, (packs + S - 1) / S);          // segments of 32·S packs
    for (i64 task = tasks.first; task < tasks.count; task += tasks.stride) {
        const i64 t = task / tasks.segments;
        const i64 first = (task - t * tasks.segments) * 32 * S + (threadIdx.x & 31u);
        const int* map_row = row_map + t * num_experts;
        const A* prob_row = probs != nullptr ? probs + t * num_experts : nullptr;
        A sum[S][VEC];
#pragma unroll
        for (int j = 0; j < S; ++j)
#pragma unroll
            for (int v = 0; v < VEC; ++v) sum[j][v] = A(0);
        for (int base = 0; base < num_experts; base += 32) {
            int row; A weight;
            unsigned int routed = load_experts<A>(map_row, prob_row, base, num_experts, num_rows, row, weight);
            while (routed != 0u) {
                const int n = min(__popc(routed), CH);
                P x[CH][S];
                A w[CH];
#pragma unroll
                for (int u = 0; u < CH; ++u) {
                    const int from = next_copy(routed) & 31;
                    const int r = __shfl_sync(MOE_FULL_MASK, row, from);
                    w[u] = __shfl_sync(MOE_FULL_MASK, weight, from);
#pragma unroll
                    for (int j = 0; j < S; ++j)
                        if (u < n && first + 32 * j < packs) x[u][j] = rows[(i64)r * packs + first + 32 * j];
                }
#pragma unroll
                for (int u = 0; u < CH; ++u)
#pragma unroll
                    for (int j = 0; j < S; ++j)
                        if (u < n && first + 32 * j < packs) {
#pragma unroll
                            for (int v = 0; v < VEC; ++v) sum[j][v] = C::madd(sum[j][v], w[u], C::load(x[u][j].v[v]));
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

typedef void (*Kernel)(const unsigned short*, const int*, const float*, unsigned short*, i64, i64, int, i64);

int main(int argc, char** argv)
{
    const i64 tokens = 8192, hidden = atoll(argv[1]);
    const int experts = atoi(argv[2]), k = atoi(argv[3]);
    const i64 rows = tokens * k, packs = hidden / 8;
    int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    // Top-k of random logits: k distinct experts a token; rows expert-major, token-ascending.
    std::vector<int> map(tokens * experts, -1), count(experts, 0);
    unsigned s = 7;
    for (i64 t = 0; t < tokens; t++)
        for (int c = 0; c < k;) {
            s = s * 1664525u + 1013904223u;
            const int e = (int)((s >> 8) % experts);
            if (map[t * experts + e] == -1) { map[t * experts + e] = -2; c++; }
        }
    std::vector<int> offset(experts + 1, 0);
    for (i64 t = 0; t < tokens; t++) for (int e = 0; e < experts; e++) if (map[t * experts + e] == -2) count[e]++;
    for (int e = 0; e < experts; e++) offset[e + 1] = offset[e] + count[e];
    std::vector<int> next(offset.begin(), offset.end() - 1);
    for (i64 t = 0; t < tokens; t++) for (int e = 0; e < experts; e++) if (map[t * experts + e] == -2) map[t * experts + e] = next[e]++;
    std::vector<float> probs(tokens * experts);
    for (auto& p : probs) { s = s * 1664525u + 1013904223u; p = (s >> 8) * (1.f / 16777216.f); }
    unsigned short *permuted, *out, *out_ref; int* d_map; float* d_probs; void* copy;
    CK(cudaMalloc(&permuted, rows * hidden * 2)); CK(cudaMalloc(&copy, rows * hidden * 2));
    CK(cudaMalloc(&out, tokens * hidden * 2)); CK(cudaMalloc(&out_ref, tokens * hidden * 2));
    CK(cudaMalloc(&d_map, tokens * experts * 4)); CK(cudaMalloc(&d_probs, tokens * experts * 4));
    { auto hx = random_bf16(rows * hidden); CK(cudaMemcpy(permuted, hx.data(), rows * hidden * 2, cudaMemcpyHostToDevice)); }
    CK(cudaMemcpy(d_map, map.data(), tokens * experts * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d_probs, probs.data(), tokens * experts * 4, cudaMemcpyHostToDevice));
    const double xb = rows * hidden * 2.0;
    const float tc = time_us([&] { cudaMemcpyAsync(copy, permuted, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
    const double copy_bw = 2 * xb / (tc * 1e3);
    const double bytes = xb + tokens * hidden * 2.0 + tokens * experts * 8.0;      // rows read, output written, map + probs
    struct Candidate { const char* name; Kernel k; int s; };
    Candidate candidates[] = {
        {"generated", moe_unpermute_bf16_v16, 1},
        {"multi_s1_ch8", unpermute_multi<BF16, 8, 1, 8>, 1},
        {"multi_s2_ch1", unpermute_multi<BF16, 8, 2, 1>, 2},
        {"multi_s2_ch2", unpermute_multi<BF16, 8, 2, 2>, 2},
        {"multi_s2_ch4", unpermute_multi<BF16, 8, 2, 4>, 2},
        {"multi_s3_ch1", unpermute_multi<BF16, 8, 3, 1>, 3},
        {"multi_s3_ch2", unpermute_multi<BF16, 8, 3, 2>, 3},
        {"multi_s4_ch1", unpermute_multi<BF16, 8, 4, 1>, 4},
        {"multi_s4_ch2", unpermute_multi<BF16, 8, 4, 2>, 4},
        {"multi_s6_ch1", unpermute_multi<BF16, 8, 6, 1>, 6},
        {"multi_s8_ch1", unpermute_multi<BF16, 8, 8, 1>, 8}};
    for (auto& cand : candidates) {
        cudaFuncAttributes at; CK(cudaFuncGetAttributes(&at, (const void*)cand.k));
        int per; CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)cand.k, 256, 0));
        const i64 tasks = tokens * ((packs + 32 * cand.s - 1) / (32 * cand.s)), all = (tasks + 7) / 8;
        for (i64 grid : {std::min<i64>(all, 32LL * sms), all}) {
            auto launch = [&] { cand.k<<<(unsigned)grid, 256>>>(permuted, d_map, d_probs, out, tokens, rows, experts, hidden); };
            const float t = time_us(launch);
            CK(cudaMemset(out, 0xff, tokens * hidden * 2)); launch(); CK(cudaDeviceSynchronize());
            long long differ = 0;
            if (!strcmp(cand.name, "generated") && grid != all) CK(cudaMemcpy(out_ref, out, tokens * hidden * 2, cudaMemcpyDeviceToDevice));
            else {
                std::vector<unsigned short> a(tokens * hidden), b(tokens * hidden);
                CK(cudaMemcpy(a.data(), out, a.size() * 2, cudaMemcpyDeviceToHost)); CK(cudaMemcpy(b.data(), out_ref, b.size() * 2, cudaMemcpyDeviceToHost));
                for (size_t i = 0; i < a.size(); i++) differ += a[i] != b[i];
            }
            printf("{\"hidden\":%lld,\"experts\":%d,\"topk\":%d,\"what\":\"%s\",\"grid\":%lld,\"runtime_grid\":%s,\"regs\":%d,\"resident_per_sm\":%d,"
                   "\"us\":%.1f,\"pct\":%.1f,\"copy_gbps\":%.0f,\"out_bits_differing\":%lld}\n", hidden, experts, k, cand.name, grid,
                   grid == std::min<i64>(all, 32LL * sms) ? "true" : "false", at.numRegs, per, t, 100 * bytes / (t * 1e3) / copy_bw, copy_bw, differ);
            fflush(stdout);
        }
    }
    return 0;
}
