// Measurement harness 5 (not product code): the generated backward with bias against the candidate of
// bias-registers.cuh (register bias accumulators, column slices), times and agreement, GPT-OSS bf16 SwiGLU.
#include MOG_SOURCE
#include "timing.cuh"
#include "bias-registers.cuh"
#include <cmath>
typedef mog_bf16 T;
static float bf16_to_float(unsigned short b) { unsigned u = (unsigned)b << 16; float f; memcpy(&f, &u, 4); return f; }
static double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0; for (size_t i = 0; i < a.size(); i++) { double d = fabs((double)a[i] - b[i]) / (1e-3 + fabs((double)a[i])); if (d > m) m = d; } return m;
}
template <typename U> static std::vector<U> fetch(const U* p, size_t n) { std::vector<U> v(n); CK(cudaMemcpy(v.data(), p, n * sizeof(U), cudaMemcpyDeviceToHost)); return v; }
int main(int argc, char** argv) {
  const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / 8;
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  T *x, *g, *dx, *dx2, *bias, *dbias, *dbias2; float *w, *dw, *dw2, *partial, *dw_partial; void* copy;
  CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&dx2, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2));
  CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&dw, rows * 4)); CK(cudaMalloc(&dw2, rows * 4));
  CK(cudaMalloc(&bias, 2 * h * 2)); CK(cudaMalloc(&dbias, 2 * h * 2)); CK(cudaMalloc(&dbias2, 2 * h * 2));
  CK(cudaMalloc(&partial, 4096LL * 2 * h * 4)); CK(cudaMalloc(&dw_partial, 64LL * rows * 4));
  { auto hx = random_bf16(rows * 2 * h);
    CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data(), rows * h * 2, cudaMemcpyHostToDevice));
    auto hb = random_bf16(2 * h); for (auto& v : hb) v = (unsigned short)(v - 0x0300); CK(cudaMemcpy(bias, hb.data(), 2 * h * 2, cudaMemcpyHostToDevice));
    std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
  mog_scalars sc; memset(&sc, 0, sizeof sc);
  const double xb = rows * 2 * h * 2.0, ob = rows * h * 2.0, bytes = ob + 2 * xb + rows * 8;
  float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
  double copy_bw = 2 * xb / (tc * 1e3);
  auto report = [&](const char* what, int regs, int block, long long grid, float t) {
    printf("{\"what\":\"%s\",\"regs\":%d,\"block\":%d,\"grid\":%lld,\"us\":%.1f,\"pct\":%.1f}\n", what, regs, block, grid, t, 100 * bytes / (t * 1e3) / copy_bw);
  };
  for (int clamp = 0; clamp < 2; clamp++) {
    auto gen = clamp ? swiglu_bwd_bf16_wbc : swiglu_bwd_bf16_wb;
    auto cand = clamp ? bias_regs_backward<T, true> : bias_regs_backward<T, false>;
    // The runtime's shape today: two packs a thread, one wave of resident blocks, then the bias reduction.
    int block = (int)(((packs + 1) / 2 + 31) / 32 * 32); unsigned shared = (unsigned)(2 * 8 * packs * 4);
    if (block > 1024) block = 1024;
    CK(cudaFuncSetAttribute((const void*)gen, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared));
    int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)gen, block, shared);
    long long grid = (long long)per * sms;
    unsigned rgrid = (unsigned)((2 * h + 31) / 32);
    cudaFuncAttributes at; cudaFuncGetAttributes(&at, (const void*)gen);
    float t = time_us([&] {
      gen<<<(unsigned)grid, block, shared>>>(g, x, nullptr, w, bias, dx, dw, partial, rows, h, 0, 1, 7.f, sc);
      swiglu_reduce_bias_bf16<<<rgrid, 256>>>(partial, dbias, grid, h, 0); });
    report(clamp ? "generated_wbc" : "generated_wb", at.numRegs, block, grid, t);
    cudaFuncGetAttributes(&at, (const void*)cand);
    for (int cblock : {128, 256}) {
      const unsigned slices = (unsigned)((packs + cblock - 1) / cblock);
      const int parts = (int)slices * (cblock / 32);
      for (int groups : {sms, 2 * sms, 4 * sms}) {
        const int per_group = (int)((rows + groups - 1) / groups);
        float t2 = time_us([&] {
          cand<<<dim3(groups, slices), cblock>>>(g, x, w, bias, dx2, dw_partial, partial, rows, h, per_group, 7.f, sc);
          bias_regs_reduce_dw<<<(unsigned)((rows + 255) / 256), 256>>>(dw_partial, dw2, rows, parts);
          swiglu_reduce_bias_bf16<<<rgrid, 256>>>(partial, dbias2, groups, h, 0); });
        char name[64]; snprintf(name, sizeof name, "candidate_%s_g%d", clamp ? "wbc" : "wb", groups);
        report(name, at.numRegs, cblock, (long long)groups * slices, t2);
      }
    }
    // Agreement of the last candidate run with the generated kernel.
    auto a = fetch((const unsigned short*)dx, rows * 2 * h), b = fetch((const unsigned short*)dx2, rows * 2 * h);
    size_t dx_diff = 0; for (size_t i = 0; i < a.size(); i++) dx_diff += a[i] != b[i];
    auto wa = fetch(dw, rows), wb = fetch(dw2, rows);
    auto da = fetch((const unsigned short*)dbias, 2 * h), db = fetch((const unsigned short*)dbias2, 2 * h);
    std::vector<float> fa(da.size()), fb(db.size()); for (size_t i = 0; i < da.size(); i++) { fa[i] = bf16_to_float(da[i]); fb[i] = bf16_to_float(db[i]); }
    printf("{\"what\":\"agreement_%s\",\"dx_elements_differing\":%zu,\"dw_max_rel\":%.3g,\"dbias_max_rel\":%.3g}\n",
           clamp ? "wbc" : "wb", dx_diff, max_rel_diff(wa, wb), max_rel_diff(fa, fb));
  }
  return 0;
}
