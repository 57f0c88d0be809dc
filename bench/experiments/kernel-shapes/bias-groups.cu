// Measurement harness 6 (not product code): the generated backward with bias (row groups × column slices,
// mog_gated_backward_bias) and its two reductions, timed for several numbers of row groups around the runtime's
// choice (CudaLaunchShapes.BiasBackwardGrid: one wave of resident blocks in whole groups), bf16 SwiGLU, the _v16
// entry points and one general (run-time layout) entry point. run-bias-groups.sh builds it once per register cap.
// Usage: bias-groups ROWS HIDDEN BOUNDS_LABEL
#include MOG_SOURCE
#include "timing.cuh"
typedef mog_bf16 T;
int main(int argc, char** argv) {
  const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / 8, block = 128, slices = (packs + block - 1) / block;
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  T *x, *g, *dx, *bias, *dbias; float *w, *dw, *partial, *dw_partial; void* copy; unsigned char* x8;
  CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2));
  CK(cudaMalloc(&x8, rows * 2 * h)); CK(cudaMemset(x8, 0x38, rows * 2 * h));   // E4M3 1.0
  CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&dw, rows * 4));
  CK(cudaMalloc(&bias, 2 * h * 2)); CK(cudaMalloc(&dbias, 2 * h * 2));
  CK(cudaMalloc(&partial, 8192LL * 2 * h * 4)); CK(cudaMalloc(&dw_partial, slices * 4 * rows * 4));
  { auto hx = random_bf16(rows * 2 * h);
    CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data(), rows * h * 2, cudaMemcpyHostToDevice));
    auto hb = random_bf16(2 * h); CK(cudaMemcpy(bias, hb.data(), 2 * h * 2, cudaMemcpyHostToDevice));
    std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
  mog_scalars sc; memset(&sc, 0, sizeof sc);
  const double xb = rows * 2 * h * 2.0;
  float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
  const double copy_bw = 2 * xb / (tc * 1e3);
  struct V { const char* name; void (*k)(const T*, const T*, const unsigned char*, const float*, const T*, T*, float*, float*, long long, long long, long long, int, int, float, mog_scalars); bool weights, fp8; };
  V variants[] = {{"b_v16", swiglu_bwd_bf16_b_v16, false, false}, {"wb_v16", swiglu_bwd_bf16_wb_v16, true, false},
                  {"wbc_v16", swiglu_bwd_bf16_wbc_v16, true, false}, {"wbcf_v16", swiglu_bwd_bf16_wbcf_v16, true, true},
                  {"wb_general", swiglu_bwd_bf16_wb, true, false}};
  for (auto& v : variants) {
    const double bytes = rows * h * 2.0 + (v.fp8 ? 1.5 : 2.0) * xb + (v.weights ? rows * 8 : 0);   // g, x (or x8), dx, w, dw
    cudaFuncAttributes at; cudaFuncGetAttributes(&at, (const void*)v.k);
    int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)v.k, (int)block, 0);
    const long long wave = (long long)per * sms / slices;
    long long choices[] = {wave / 2, wave, 2 * wave};
    for (long long want : choices) {
      long long groups = want < 1 ? 1 : (want > rows ? rows : want);
      const long long per_group = (rows + groups - 1) / groups; groups = (rows + per_group - 1) / per_group;
      if (groups > 8192) continue;
      const int parts = (int)(slices * (block / 32));
      float t = time_us([&] {
        v.k<<<dim3((unsigned)groups, (unsigned)slices), (unsigned)block>>>(g, v.fp8 ? nullptr : x, v.fp8 ? x8 : nullptr, w, bias, dx, dw_partial, partial, rows, h, per_group, 0, 1, 7.f, sc);
        if (v.weights) swiglu_reduce_weights<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw, rows, parts);
        swiglu_reduce_bias_bf16<<<(unsigned)((2 * h + 31) / 32), 256>>>(partial, dbias, groups, h, 0); });
      printf("{\"bounds\":\"%s\",\"rows\":%lld,\"h\":%lld,\"variant\":\"%s\",\"regs\":%d,\"resident_per_sm\":%d,\"slices\":%lld,\"groups\":%lld,\"runtime_choice\":%s,\"us\":%.1f,\"pct\":%.1f}\n",
             argv[3], rows, h, v.name, at.numRegs, per, slices, groups, want == wave ? "true" : "false", t, 100 * bytes / (t * 1e3) / copy_bw);
    }
  }
  return 0;
}
