// Measurement harness (not product code): time the generated gated kernels under launch/maths variants. 
#include MOG_SOURCE
#include "timing.cuh"
#define CAT2(a,b) a##b
#define CAT(a,b) CAT2(a,b)
#define K(n) CAT(OP, n)
typedef void (*fwd_t)(const mog_bf16*, const float*, const mog_bf16*, mog_bf16*, unsigned char*, long long, long long, int, int, float, mog_scalars);
typedef void (*bwd_t)(const mog_bf16*, const mog_bf16*, const unsigned char*, const float*, const mog_bf16*, mog_bf16*, float*, float*, long long, long long, int, int, float, mog_scalars);
int main() {
  const long long rows = 32768, h = 2880, packs = h / 8, total = rows * packs;
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  mog_bf16 *x, *out, *g, *dx, *bias; float *w, *dw; void* copy;
  CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2));
  CK(cudaMalloc(&out, rows * h * 2)); CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&bias, 2 * h * 2));
  CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&dw, rows * 4));
  { auto hx = random_bf16(rows * 2 * h);
    CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data(), rows * h * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(bias, hx.data(), 2 * h * 2, cudaMemcpyHostToDevice));
    std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
  mog_scalars sc; memset(&sc, 0, sizeof sc);
#ifdef QUICK
  sc.alpha = 1.702f; sc.linearOffset = 1.f;
#endif
  const double xb = rows * 2 * h * 2.0, ob = rows * h * 2.0;
  float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
  double copy_bw = 2 * xb / (tc * 1e3);
  printf("{\"variant\":\"%s\",\"what\":\"copy\",\"us\":%.1f,\"GBps\":%.0f}\n", VARIANT, tc, copy_bw);
  struct F { const char* name; fwd_t f; bool w, b; } fw[] = { {"fwd", K(_fwd_bf16), false, false}, {"fwd_w", K(_fwd_bf16_w), true, false}, {"fwd_wbc", K(_fwd_bf16_wbc), true, true} };
  for (auto& k : fw) {
    cudaFuncAttributes at; cudaFuncGetAttributes(&at, (const void*)k.f);
    double bytes = xb + ob + (k.w ? rows * 4 : 0) + (k.b ? 2 * h * 2 : 0);
    for (int block : {128, 256, 512}) {
      int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)k.f, block, 0);
      long long full = (total + block - 1) / block;
      for (long long grid : {(long long)per * sms, full}) {
        float t = time_us([&] { k.f<<<(unsigned)grid, block>>>(x, w, bias, out, nullptr, rows, h, 0, 1, 7.f, sc); });
        printf("{\"variant\":\"%s\",\"what\":\"%s\",\"regs\":%d,\"block\":%d,\"grid\":%lld,\"us\":%.1f,\"pct\":%.1f}\n", VARIANT, k.name, at.numRegs, block, grid, t, 100 * bytes / (t * 1e3) / copy_bw);
      }
    }
  }
  struct B { const char* name; bwd_t f; bool w; } bw[] = { {"bwd", K(_bwd_bf16), false}, {"bwd_w", K(_bwd_bf16_w), true} };
  for (auto& k : bw) {
    cudaFuncAttributes at; cudaFuncGetAttributes(&at, (const void*)k.f);
    double bytes = ob + 2 * xb + (k.w ? rows * 8 : 0);
    for (int block : {192, 384, 768}) {
      int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)k.f, block, 0);
      for (long long grid : {(long long)per * sms, rows}) {
        float t = time_us([&] { k.f<<<(unsigned)grid, block>>>(g, x, nullptr, w, bias, dx, dw, nullptr, rows, h, 0, 1, 7.f, sc); });
        printf("{\"variant\":\"%s\",\"what\":\"%s\",\"regs\":%d,\"block\":%d,\"grid\":%lld,\"us\":%.1f,\"pct\":%.1f}\n", VARIANT, k.name, at.numRegs, block, grid, t, 100 * bytes / (t * 1e3) / copy_bw);
      }
    }
  }
  return 0;
}
