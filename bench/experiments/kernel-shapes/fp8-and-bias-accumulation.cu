// Measurement harness 4 (not product code): where the FP8-store kernels and the bias-gradient accumulation spend
// their time. The run script builds the generated SwiGLU source with edits (VARIANT) and times the same kernels.
#include MOG_SOURCE
#include "timing.cuh"
typedef mog_bf16 T;
int main(int argc, char** argv) {
  const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / 8;
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  T *x, *out, *g, *dx, *bias; float *w, *dw, *partial; unsigned char* x8; void* copy;
  CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2));
  CK(cudaMalloc(&out, rows * h * 2)); CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&dw, rows * 4));
  CK(cudaMalloc(&bias, 2 * h * 2)); CK(cudaMalloc(&x8, rows * 2 * h)); CK(cudaMalloc(&partial, 4096LL * 2 * h * 4));
  { auto hx = random_bf16(rows * 2 * h);
    CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data(), rows * h * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(bias, hx.data(), 2 * h * 2, cudaMemcpyHostToDevice));
    std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
  mog_scalars sc; memset(&sc, 0, sizeof sc);
  const double xb = rows * 2 * h * 2.0, ob = rows * h * 2.0, x8b = rows * 2 * h;
  float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
  double copy_bw = 2 * xb / (tc * 1e3);
  auto report = [&](const char* what, const void* f, int block, long long grid, float t, double bytes) {
    cudaFuncAttributes at; cudaFuncGetAttributes(&at, f);
    printf("{\"variant\":\"%s\",\"what\":\"%s\",\"regs\":%d,\"local\":%zu,\"block\":%d,\"grid\":%lld,\"us\":%.1f,\"pct\":%.1f}\n", VARIANT, what, at.numRegs, at.localSizeBytes, block, grid, t, 100 * bytes / (t * 1e3) / copy_bw);
  };
  unsigned gx = (unsigned)((rows * packs + 255) / 256);
  { float t = time_us([&] { swiglu_fwd_bf16_wf<<<gx, 256>>>(x, w, bias, out, x8, rows, h, 0, 1, 7.f, sc); }); report("fwd_wf", (const void*)swiglu_fwd_bf16_wf, 256, gx, t, xb + ob + x8b + rows * 4); }
  { float t = time_us([&] { swiglu_bwd_bf16_wf<<<(unsigned)rows, 96>>>(g, x, x8, w, bias, dx, dw, nullptr, rows, h, 0, 1, 7.f, sc); }); report("bwd_wf", (const void*)swiglu_bwd_bf16_wf, 96, rows, t, ob + x8b + xb + rows * 8); }
  for (int block : {192, 384}) {
    unsigned shared = (unsigned)(2 * 8 * packs * 4);
    int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)swiglu_bwd_bf16_wb, block, shared);
    long long grid = (long long)per * sms;
    float t = time_us([&] { swiglu_bwd_bf16_wb<<<(unsigned)grid, block, shared>>>(g, x, nullptr, w, bias, dx, dw, partial, rows, h, 0, 1, 7.f, sc); });
    report("bwd_wb", (const void*)swiglu_bwd_bf16_wb, block, grid, t, ob + 2 * xb + rows * 8);
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)swiglu_bwd_bf16_wbc, block, shared);
    grid = (long long)per * sms;
    t = time_us([&] { swiglu_bwd_bf16_wbc<<<(unsigned)grid, block, shared>>>(g, x, nullptr, w, bias, dx, dw, partial, rows, h, 0, 1, 7.f, sc); });
    report("bwd_wbc", (const void*)swiglu_bwd_bf16_wbc, block, grid, t, ob + 2 * xb + rows * 8);
  }
  return 0;
}
