// Measurement harness 10 (not product code): where the heavy-maths operators' time goes. Times the generated
// forward (plain, weighted, weighted+bias and weighted+bias+clamp on the _v16 path) and the weighted backward
// (no bias: a block per row, the runtime's block size) of one operator module against cudaMemcpy, and with
// `once` launches each kernel once for a profiler (run-forward-maths.sh runs ncu on that). The build script also
// builds edited copies of the modules (fast division, erf removed) to apportion the time to the maths.
// Usage: forward-maths ROWS HIDDEN LABEL SCALAR [once]   (every float of the operator's mog_scalars = SCALAR)
#include MOG_SOURCE
#include "timing.cuh"
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define KERNEL(suffix) CAT(OP, suffix)
typedef mog_bf16 T;

int main(int argc, char** argv)
{
    const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / 8;
    const bool once = argc > 5 && !strcmp(argv[5], "once");
    T *x, *out, *g, *dx, *bias; float *w, *dw; void* copy;
    CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2));
    CK(cudaMalloc(&out, rows * h * 2)); CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&dw, rows * 4));
    CK(cudaMalloc(&bias, 2 * h * 2));
    { auto hx = random_bf16(rows * 2 * h);
      CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data() + rows * h / 2, rows * h * 2, cudaMemcpyHostToDevice));
      auto hb = random_bf16(2 * h); CK(cudaMemcpy(bias, hb.data(), 2 * h * 2, cudaMemcpyHostToDevice));
      std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
    mog_scalars sc; float* fields = reinterpret_cast<float*>(&sc);
    for (size_t i = 0; i < sizeof sc / sizeof(float); i++) fields[i] = (float)atof(argv[4]);
    const double xb = rows * 2 * h * 2.0;
    const float tc = once ? 1.f : time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
    const double copy_bw = 2 * xb / (tc * 1e3);
    const unsigned fwd_grid = (unsigned)((rows * packs + 255) / 256);
    typedef void (*Forward)(const T*, const float*, const T*, T*, unsigned char*, long long, long long, int, int, float, mog_scalars);
    struct F { const char* name; Forward k; };
    F forwards[] = {{"fwd", KERNEL(_fwd_bf16)}, {"fwd_w", KERNEL(_fwd_bf16_w)}, {"fwd_wb_v16", KERNEL(_fwd_bf16_wb_v16)}, {"fwd_wbc_v16", KERNEL(_fwd_bf16_wbc_v16)}};
    for (auto& f : forwards) {
        auto launch = [&] { f.k<<<fwd_grid, 256>>>(x, w, bias, out, nullptr, rows, h, 0, 1, 7.f, sc); };
        cudaFuncAttributes at; CK(cudaFuncGetAttributes(&at, (const void*)f.k));
        if (once) { launch(); CK(cudaDeviceSynchronize()); continue; }
        const float t = time_us(launch);
        printf("{\"label\":\"%s\",\"rows\":%lld,\"h\":%lld,\"kernel\":\"%s\",\"regs\":%d,\"us\":%.1f,\"pct\":%.1f}\n", argv[3], rows, h, f.name,
               at.numRegs, t, 100 * (3.0 * rows * h * 2) / (t * 1e3) / copy_bw);
    }
    {   // Weighted backward without bias: a block per row, ceil(packs / 4) threads rounded up to warps (CudaLaunchShapes).
        const long long threads = (packs + 3) / 4;
        const unsigned block = (unsigned)std::min(std::max((threads + 31) / 32 * 32, 64LL), 1024LL);
        auto launch = [&] { KERNEL(_bwd_bf16_w)<<<(unsigned)rows, block>>>(g, x, nullptr, w, dx, dw, rows, h, 0, 1, 7.f, sc); };
        cudaFuncAttributes at; CK(cudaFuncGetAttributes(&at, (const void*)KERNEL(_bwd_bf16_w)));
        if (once) { launch(); CK(cudaDeviceSynchronize()); }
        else {
            const float t = time_us(launch);
            printf("{\"label\":\"%s\",\"rows\":%lld,\"h\":%lld,\"kernel\":\"bwd_w\",\"regs\":%d,\"us\":%.1f,\"pct\":%.1f}\n", argv[3], rows, h,
                   at.numRegs, t, 100 * (5.0 * rows * h * 2 + 8.0 * rows) / (t * 1e3) / copy_bw);
        }
    }
    CK(cudaGetLastError());
    return 0;
}
