// Measurement harness 2 (not product code): forward kernel structures and backward block sizes. 
#include MOG_SOURCE
#include "timing.cuh"
typedef mog_bf16 T;
constexpr int V = 8;
__device__ __forceinline__ void body(const T* x, const float* w, T* out, long long r, int p, long long h, mog_scalars s) {
  const long long col = (long long)p * V;
  float a[V], b[V], y[V];
  mog_load_pair(x + r * 2 * h, col, V, h, 0, 1, a, b);
  const float wr = w[r];
#pragma unroll
  for (int k = 0; k < V; k++) y[k] = mog_forward(a[k], b[k], s) * wr;
  mog_store_pack(out + r * h + col, V, 1, y);
}
// F1: 2-D, one pack per thread, no division.
extern "C" __global__ void f1(const T* __restrict__ x, const float* __restrict__ w, T* __restrict__ out, long long rows, long long h, mog_scalars s) {
  const long long r = (long long)blockIdx.x * blockDim.y + threadIdx.y; const int p = blockIdx.y * blockDim.x + threadIdx.x;
  if (r < rows && p < h / V) body(x, w, out, r, p, h, s);
}
// F3: 2-D, two packs per thread (p and p + blockDim.x), loads of both first.
extern "C" __global__ void f3(const T* __restrict__ x, const float* __restrict__ w, T* __restrict__ out, long long rows, long long h, mog_scalars s) {
  const long long r = (long long)blockIdx.x * blockDim.y + threadIdx.y; const int p0 = blockIdx.y * 2 * blockDim.x + threadIdx.x, p1 = p0 + blockDim.x;
  const int packs = (int)(h / V);
  if (r >= rows) return;
  const uint4* row = reinterpret_cast<const uint4*>(x + r * 2 * h); const int hp = packs;
  uint4 a0, b0, a1, b1;
  if (p0 < packs) { a0 = row[p0]; b0 = row[hp + p0]; }
  if (p1 < packs) { a1 = row[p1]; b1 = row[hp + p1]; }
  const float wr = w[r];
  uint4* o = reinterpret_cast<uint4*>(out + r * h);
  #pragma unroll
  for (int j = 0; j < 2; j++) {
    const int p = j ? p1 : p0; if (p >= packs) break;
    const uint4 pa = j ? a1 : a0, pb = j ? b1 : b0;
    const T* ta = reinterpret_cast<const T*>(&pa); const T* tb = reinterpret_cast<const T*>(&pb);
    float y[V];
    #pragma unroll
    for (int k = 0; k < V; k++) y[k] = mog_forward(mog_load(ta[k]), mog_load(tb[k]), s) * wr;
    uint4 q; T* tq = reinterpret_cast<T*>(&q);
    #pragma unroll
    for (int k = 0; k < V; k++) tq[k] = mog_store<T>(y[k]);
    o[p] = q;
  }
}
// F2: flat 1-D with 32-bit division, one pack per thread.
extern "C" __global__ void f2(const T* __restrict__ x, const float* __restrict__ w, T* __restrict__ out, long long rows, long long h, mog_scalars s) {
  const unsigned packs = (unsigned)(h / V), i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (unsigned)rows * packs) return;
  const unsigned r = i / packs, p = i - r * packs;
  body(x, w, out, r, p, h, s);
}
// F4: F2 in a grid-stride loop.
extern "C" __global__ void f4(const T* __restrict__ x, const float* __restrict__ w, T* __restrict__ out, long long rows, long long h, mog_scalars s) {
  const unsigned packs = (unsigned)(h / V), total = (unsigned)rows * packs;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned r = i / packs, p = i - r * packs;
    body(x, w, out, r, p, h, s);
  }
}
int main(int argc, char** argv) {
  const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / V, total = rows * packs;
  const char* shape = argv[3];
  int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  T *x, *out, *g, *dx; float *w, *dw; void* copy;
  CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2));
  CK(cudaMalloc(&out, rows * h * 2)); CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&dw, rows * 4));
  { auto hx = random_bf16(rows * 2 * h);
    CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data(), rows * h * 2, cudaMemcpyHostToDevice));
    std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
  mog_scalars sc; memset(&sc, 0, sizeof sc);
  const double xb = rows * 2 * h * 2.0, ob = rows * h * 2.0;
  float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
  double copy_bw = 2 * xb / (tc * 1e3);
  auto report = [&](const char* what, const void* f, int block, long long grid, float t, double bytes) {
    cudaFuncAttributes at; cudaFuncGetAttributes(&at, f);
    printf("{\"variant\":\"%s\",\"shape\":\"%s\",\"what\":\"%s\",\"regs\":%d,\"block\":%d,\"grid\":%lld,\"us\":%.1f,\"pct\":%.1f}\n", VARIANT, shape, what, at.numRegs, block, grid, t, 100 * bytes / (t * 1e3) / copy_bw);
  };
  const double fb = xb + ob + rows * 4;
  // generated kernel, as launched today (one wave, 256) and full grid
  { int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)OPFWD, 256, 0);
    for (long long grid : {(long long)per * sms, (total + 255) / 256}) { float t = time_us([&] { OPFWD<<<(unsigned)grid, 256>>>(x, w, nullptr, out, nullptr, rows, h, 0, 1, 7.f, sc); }); report("gen_fwd_w", (const void*)OPFWD, 256, grid, t, fb); } }
  for (int bx : {32, 64, 128, 256}) {
    int by = 256 / bx; dim3 block(bx, by);
    { dim3 grid((unsigned)((rows + by - 1) / by), (unsigned)((packs + bx - 1) / bx)); float t = time_us([&] { f1<<<grid, block>>>(x, w, out, rows, h, sc); }); report("f1", (const void*)f1, bx * 1000 + by, (long long)grid.x * grid.y, t, fb); }
    { dim3 grid((unsigned)((rows + by - 1) / by), (unsigned)((packs + 2 * bx - 1) / (2 * bx))); float t = time_us([&] { f3<<<grid, block>>>(x, w, out, rows, h, sc); }); report("f3", (const void*)f3, bx * 1000 + by, (long long)grid.x * grid.y, t, fb); }
  }
  for (int block : {128, 256, 512}) {
    { long long grid = (total + block - 1) / block; float t = time_us([&] { f2<<<(unsigned)grid, block>>>(x, w, out, rows, h, sc); }); report("f2", (const void*)f2, block, grid, t, fb); }
    { int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)f4, block, 0); long long grid = (long long)per * sms; float t = time_us([&] { f4<<<(unsigned)grid, block>>>(x, w, out, rows, h, sc); }); report("f4", (const void*)f4, block, grid, t, fb); }
  }
  const double bb = ob + 2 * xb + rows * 8;
  int maxb = 1024;
  for (int div : {1, 2, 3, 4}) {
    int block = (int)(((packs + div - 1) / div + 31) / 32 * 32); if (block < 64) block = 64; if (block > maxb) block = maxb;
    int per; cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, (const void*)OPBWD, block, 0);
    for (long long grid : {(long long)per * sms, rows}) {
      float t = time_us([&] { OPBWD<<<(unsigned)grid, block>>>(g, x, nullptr, w, nullptr, dx, dw, nullptr, rows, h, 0, 1, 7.f, sc); });
      report(div == 1 ? "gen_bwd_w/1" : div == 2 ? "gen_bwd_w/2" : div == 3 ? "gen_bwd_w/3" : "gen_bwd_w/4", (const void*)OPBWD, block, grid, t, bb);
    }
  }
  return 0;
}
