// Measurement harness 13 (not product code): the backward with bias and clamp of the heavy-maths operators (GeGLU,
// GeGLU-erf, SiTuGLU: 61-76 % of copy bandwidth at GPT-OSS width in the bench, against 80-85 % without the clamp and
// for SwiGLU and Quick-GeGLU with it). Times the generated _v16 entry points with bias, without and with the clamp
// (and with the FP8 copy), each at the runtime's grid for its own occupancy (one wave of resident blocks in whole row
// groups, CudaLaunchShapes.BiasBackwardGrid), and reports registers and resident blocks; run-bias-clamp.sh builds it
// on edited copies of the module (bias reread each row, register caps). bf16, halves layout, weights.
// Usage: bias-clamp ROWS HIDDEN LABEL            (JSON lines)
//        bias-clamp ROWS HIDDEN LABEL profile    (one launch of the clamped kernel, for ncu)
#include MOG_SOURCE
#include "timing.cuh"
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
typedef mog_bf16 T;
typedef void (*Kernel)(const T*, const T*, const unsigned char*, const float*, const T*, T*, float*, float*, long long, long long, long long, int, int, float, mog_scalars);

int main(int argc, char** argv)
{
    const long long rows = atoll(argv[1]), h = atoll(argv[2]), packs = h / 8, block = 128, slices = (packs + block - 1) / block;
    const char* label = argv[3];
    const bool profile = argc > 4 && !strcmp(argv[4], "profile");
    int sms; cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    T *x, *g, *dx, *bias; float *w, *partial, *dw_partial; void* copy; unsigned char* x8;
    CK(cudaMalloc(&x, rows * 2 * h * 2)); CK(cudaMalloc(&dx, rows * 2 * h * 2)); CK(cudaMalloc(&copy, rows * 2 * h * 2));
    CK(cudaMalloc(&x8, rows * 2 * h)); CK(cudaMemset(x8, 0x38, rows * 2 * h));   // E4M3 1.0
    CK(cudaMalloc(&g, rows * h * 2)); CK(cudaMalloc(&w, rows * 4)); CK(cudaMalloc(&bias, 2 * h * 2));
    CK(cudaMalloc(&partial, 4096LL * 2 * h * 4)); CK(cudaMalloc(&dw_partial, slices * 4 * rows * 4));
    { auto hx = random_bf16(rows * 2 * h);
      CK(cudaMemcpy(x, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice)); CK(cudaMemcpy(g, hx.data(), rows * h * 2, cudaMemcpyHostToDevice));
      auto hb = random_bf16(2 * h); CK(cudaMemcpy(bias, hb.data(), 2 * h * 2, cudaMemcpyHostToDevice));
      std::vector<float> hw(rows, 0.25f); CK(cudaMemcpy(w, hw.data(), rows * 4, cudaMemcpyHostToDevice)); }
    mog_scalars sc;                                         // every scalar 8 (SiTuGLU's caps; the others' are unused or alpha)
    for (size_t i = 0; i < sizeof sc / sizeof(float); i++) reinterpret_cast<float*>(&sc)[i] = 8.f;
    struct Variant { const char* name; Kernel k; bool fp8; };
    Variant variants[] = {{"wb_v16", CAT(OP, _bwd_bf16_wb_v16), false}, {"wbc_v16", CAT(OP, _bwd_bf16_wbc_v16), false},
                          {"wbcf_v16", CAT(OP, _bwd_bf16_wbcf_v16), true}};
    auto grid_of = [&](Kernel k, int* per, long long* per_group) {
        CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(per, (const void*)k, (int)block, 0));
        long long groups = std::max<long long>(1, std::min<long long>(rows, (long long)*per * sms / slices));
        *per_group = (rows + groups - 1) / groups;
        return (rows + *per_group - 1) / *per_group;
    };
    if (profile) {
        int per; long long per_group; const long long groups = grid_of(variants[1].k, &per, &per_group);
        variants[1].k<<<dim3((unsigned)groups, (unsigned)slices), (unsigned)block>>>(g, x, nullptr, w, bias, dx, dw_partial, partial, rows, h, per_group, 0, 1, 7.f, sc);
        CK(cudaDeviceSynchronize());
        return 0;
    }
    const double xb = rows * 2 * h * 2.0;
    const float tc = time_us([&] { cudaMemcpyAsync(copy, x, (size_t)xb, cudaMemcpyDeviceToDevice, 0); });
    const double copy_bw = 2 * xb / (tc * 1e3);
    for (auto& v : variants) {
        int per; long long per_group; const long long groups = grid_of(v.k, &per, &per_group);
        cudaFuncAttributes at; CK(cudaFuncGetAttributes(&at, (const void*)v.k));
        const float t = time_us([&] {
            v.k<<<dim3((unsigned)groups, (unsigned)slices), (unsigned)block>>>(g, v.fp8 ? nullptr : x, v.fp8 ? x8 : nullptr, w, bias, dx, dw_partial, partial, rows, h, per_group, 0, 1, 7.f, sc); });
        const double bytes = rows * h * 2.0 + (v.fp8 ? xb / 2 : xb) + xb + rows * 8;   // g, x (or x8), dx, w, dw
        printf("{\"op\":\"%s\",\"label\":\"%s\",\"rows\":%lld,\"h\":%lld,\"kernel\":\"%s\",\"regs\":%d,\"local_bytes\":%zu,\"resident_per_sm\":%d,"
               "\"groups\":%lld,\"us_alone\":%.1f,\"pct_alone\":%.1f,\"copy_gbps\":%.0f}\n", STR(OP), label, rows, h, v.name, at.numRegs,
               at.localSizeBytes, per, groups, t, 100 * bytes / (t * 1e3) / copy_bw, copy_bw);
        fflush(stdout);
    }
    return 0;
}
