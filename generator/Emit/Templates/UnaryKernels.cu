// ---- Unary kernels: y = f(x) element-wise over a contiguous tensor, packs of 16 bytes when `vec` is set ----
template <typename T>
__device__ __forceinline__ void mog_unary_forward(const T* __restrict__ x, T* __restrict__ y, long long count, int vec, mog_scalars s)
{
    constexpr int V = 16 / sizeof(T);
    const long long packs = (count + V - 1) / V;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < packs; i += (long long)gridDim.x * blockDim.x) {
        const long long at = i * V;
        const int n = (int)(count - at < V ? count - at : V);
        float v[V];
        mog_load_pack(x + at, n, vec, v);
#pragma unroll
        for (int k = 0; k < V; k++) v[k] = mog_forward(v[k], s);
        mog_store_pack(y + at, n, vec, v);
    }
}

template <typename T>
__device__ __forceinline__ void mog_unary_backward(const T* __restrict__ g, const T* __restrict__ x, T* __restrict__ dx,
                                                   long long count, int vec, mog_scalars s)
{
    constexpr int V = 16 / sizeof(T);
    const long long packs = (count + V - 1) / V;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < packs; i += (long long)gridDim.x * blockDim.x) {
        const long long at = i * V;
        const int n = (int)(count - at < V ? count - at : V);
        float v[V], gg[V], d[V];
        mog_load_pack(x + at, n, vec, v);
        mog_load_pack(g + at, n, vec, gg);
#pragma unroll
        for (int k = 0; k < V; k++) { float d_x; mog_value_and_gradients(v[k], gg[k], s, d_x); d[k] = d_x; }
        mog_store_pack(dx + at, n, vec, d);
    }
}
