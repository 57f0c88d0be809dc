// Measurement harness 8 (not product code): the forward with a bias (weights + bias, with and without the clamp),
// bf16 QuickGeGLU (GPT-OSS's activation), as generated (one 16-byte pack per thread, the bias pack loaded by every
// thread) against a thread taking the same column pack of R consecutive rows: the bias pack is loaded once for R
// rows and the R rows' loads are issued together before any maths (more bytes in flight per thread). The clamp here
// is fminf/fmaxf (NaN handling differs from the product's; timing only).
// Usage: forward-bias-rows ROWS HIDDEN SHAPE_LABEL
#include MOG_SOURCE
#include "timing.cuh"
typedef mog_bf16 T;
constexpr int V = 8;

template <int R, bool C>
__global__ void __launch_bounds__(256) fwd_rows(const T* __restrict__ x, const float* __restrict__ w, const T* __restrict__ bias,
                                                T* __restrict__ out, long long rows, long long h, float c, mog_scalars s)
{
    const unsigned packs = (unsigned)(h / V), i = blockIdx.x * blockDim.x + threadIdx.x, group = i / packs, p = i - group * packs;
    const long long r0 = (long long)group * R;
    if (r0 >= rows) return;
    const long long col = (long long)p * V;
    float ba[V], bb[V], a[R][V], b[R][V];
#pragma unroll
    for (int j = 0; j < R; j++) if (r0 + j < rows) mog_load_pair(x + (r0 + j) * 2 * h, col, V, h, 0, 1, a[j], b[j]);
    mog_load_pair(bias, col, V, h, 0, 1, ba, bb);
#pragma unroll
    for (int j = 0; j < R; j++) {
        if (r0 + j >= rows) break;
        const float wr = w[r0 + j];
        float y[V];
#pragma unroll
        for (int k = 0; k < V; k++) {
            float ga = a[j][k], li = b[j][k];
            if (C) { ga = fminf(ga, c); li = fmaxf(fminf(li, c), -c); }
            y[k] = mog_forward<true>(ga + ba[k], li + bb[k], s) * wr;
        }
        mog_store_pack(out + (r0 + j) * h + col, V, 1, y);
    }
}

int main(int argc, char** argv) {
  const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / V, total = rows * packs;
  const char* shape = argv[3];
  T *x, *out, *bias; float* w; void* copy;
  CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2)); CK(cudaMalloc(&out, rows * h * 2));
  CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&bias, 2 * h * 2));
  { auto hx = random_bf16(rows * 2 * h); CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
    auto hb = random_bf16(2 * h); CK(cudaMemcpy(bias, hb.data(), 2 * h * 2, cudaMemcpyHostToDevice));
    std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
  mog_scalars sc; sc.alpha = 1.702f; sc.linearOffset = 1.f;
  const double xb = rows * 2 * h * 2.0, ob = rows * h * 2.0, fb = xb + ob + rows * 4 + 2 * h * 2;
  float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
  const double copy_bw = 2 * xb / (tc * 1e3);
  auto report = [&](const char* what, const void* f, long long grid, float t) {
    cudaFuncAttributes at; cudaFuncGetAttributes(&at, f);
    int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, f, 256, 0);
    printf("{\"shape\":\"%s\",\"what\":\"%s\",\"regs\":%d,\"resident_per_sm\":%d,\"grid\":%lld,\"us\":%.1f,\"pct\":%.1f}\n",
           shape, what, at.numRegs, per, grid, t, 100 * fb / (t * 1e3) / copy_bw);
  };
  const long long g1 = (total + 255) / 256;
  { float t = time_us([&] { quickgeglu_fwd_bf16_wb<<<(unsigned)g1, 256>>>(x, w, bias, out, nullptr, rows, h, 0, 1, 7.f, sc); }); report("generated_wb", (const void*)quickgeglu_fwd_bf16_wb, g1, t); }
  { float t = time_us([&] { quickgeglu_fwd_bf16_wbc<<<(unsigned)g1, 256>>>(x, w, bias, out, nullptr, rows, h, 0, 1, 7.f, sc); }); report("generated_wbc", (const void*)quickgeglu_fwd_bf16_wbc, g1, t); }
#define RUN(R, C, NAME) { const long long g = (packs * ((rows + R - 1) / R) + 255) / 256; \
    float t = time_us([&] { fwd_rows<R, C><<<(unsigned)g, 256>>>(x, w, bias, out, rows, h, 7.f, sc); }); report(NAME, (const void*)fwd_rows<R, C>, g, t); }
  RUN(1, false, "rows1_wb") RUN(2, false, "rows2_wb") RUN(4, false, "rows4_wb")
  RUN(1, true, "rows1_wbc") RUN(2, true, "rows2_wbc") RUN(4, true, "rows4_wbc")
  return 0;
}
