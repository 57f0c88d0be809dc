// Measurement harness 3 (not product code): forward with bias/clamp (registers, launch bounds), backward with bias (block, reduction).
#include MOG_SOURCE
#include "timing.cuh"
typedef mog_bf16 T;
// Reduction of [parts, 2h] partials: 32 columns × 8 slices per block, slices summed in order (deterministic).
extern "C" __global__ void reduce2d(const float* __restrict__ partial, T* __restrict__ dbias, long long parts, long long h) {
  __shared__ float sums[8][33];
  const long long j = (long long)blockIdx.x * 32 + threadIdx.x;
  float s = 0.f;
  if (j < 2 * h) for (long long p = threadIdx.y; p < parts; p += 8) s += partial[p * 2 * h + j];
  sums[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < 2 * h) { float t = 0.f; for (int k = 0; k < 8; k++) t += sums[k][threadIdx.x]; dbias[j] = mog_store<T>(t); }
}
int main(int argc, char** argv) {
  const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / 8;
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  T *x, *out, *g, *dx, *bias, *dbias; float *w, *dw, *partial; void* copy;
  CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2));
  CK(cudaMalloc(&out, rows * h * 2)); CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&dw, rows * 4));
  CK(cudaMalloc(&bias, 2 * h * 2)); CK(cudaMalloc(&dbias, 2 * h * 2)); CK(cudaMalloc(&partial, 4096LL * 2 * h * 4));
  { auto hx = random_bf16(rows * 2 * h);
    CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data(), rows * h * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(bias, hx.data(), 2 * h * 2, cudaMemcpyHostToDevice));
    std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
  mog_scalars sc; memset(&sc, 0, sizeof sc);
  const double xb = rows * 2 * h * 2.0, ob = rows * h * 2.0;
  float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
  double copy_bw = 2 * xb / (tc * 1e3);
  auto report = [&](const char* what, const void* f, int block, long long grid, float t, double bytes) {
    cudaFuncAttributes at; cudaFuncGetAttributes(&at, f);
    printf("{\"variant\":\"%s\",\"what\":\"%s\",\"regs\":%d,\"block\":%d,\"grid\":%lld,\"us\":%.1f,\"pct\":%.1f}\n", VARIANT, what, at.numRegs, block, grid, t, 100 * bytes / (t * 1e3) / copy_bw);
  };
  const double fb = xb + ob + rows * 4 + 4 * h;
  unsigned gx = (unsigned)((rows * packs + 255) / 256);
  { float t = time_us([&] { swiglu_fwd_bf16_w<<<gx, 256>>>(x, w, bias, out, nullptr, rows, h, 0, 1, 7.f, sc); }); report("fwd_w", (const void*)swiglu_fwd_bf16_w, 256, gx, t, fb); }
  { float t = time_us([&] { swiglu_fwd_bf16_wb<<<gx, 256>>>(x, w, bias, out, nullptr, rows, h, 0, 1, 7.f, sc); }); report("fwd_wb", (const void*)swiglu_fwd_bf16_wb, 256, gx, t, fb); }
  { float t = time_us([&] { swiglu_fwd_bf16_wbc<<<gx, 256>>>(x, w, bias, out, nullptr, rows, h, 0, 1, 7.f, sc); }); report("fwd_wbc", (const void*)swiglu_fwd_bf16_wbc, 256, gx, t, fb); }
  { float t = time_us([&] { swiglu_fwd_bf16_wc<<<gx, 256>>>(x, w, bias, out, nullptr, rows, h, 0, 1, 7.f, sc); }); report("fwd_wc", (const void*)swiglu_fwd_bf16_wc, 256, gx, t, fb); }
  const double bb = ob + 2 * xb + rows * 8 + 8 * h;
  for (int div : {1, 2, 4}) {
    int block = (int)(((packs + div - 1) / div + 31) / 32 * 32); if (block < 64) block = 64; if (block > 1024) block = 1024;
    unsigned shared = (unsigned)(2 * 8 * packs * 4);
    int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)swiglu_bwd_bf16_wb, block, shared);
    long long grid = (long long)per * sms; if (grid > 4096) grid = 4096;
    if (shared > 48 * 1024) cudaFuncSetAttribute((const void*)swiglu_bwd_bf16_wb, cudaFuncAttributeMaxDynamicSharedMemorySize, shared);
    float tm = time_us([&] { swiglu_bwd_bf16_wb<<<(unsigned)grid, block, shared>>>(g, x, nullptr, w, bias, dx, dw, partial, rows, h, 0, 1, 7.f, sc); });
    report("bwd_wb_main", (const void*)swiglu_bwd_bf16_wb, block, grid, tm, bb);
    float tr = time_us([&] { swiglu_reduce_bias_bf16<<<(unsigned)((2 * h + 255) / 256), 256>>>(partial, dbias, grid, h, 0); });
    report("reduce_gen", (const void*)swiglu_reduce_bias_bf16, 256, grid, tr, grid * 2 * h * 4.0);
    float t2 = time_us([&] { reduce2d<<<(unsigned)((2 * h + 31) / 32), dim3(32, 8)>>>(partial, dbias, grid, h); });
    report("reduce_2d", (const void*)reduce2d, 256, grid, t2, grid * 2 * h * 4.0);
  }
  return 0;
}
