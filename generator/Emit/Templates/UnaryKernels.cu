// ---- Unary kernels: y = f(x) element-wise over a contiguous tensor, packs of 16 bytes when `vec` is set ----
// One pack per thread, no loop (as the gated forward, which moved 97-100 % of copy bandwidth this way on an H100
// against 70-80 % for a grid-stride loop). Tensors of 2^31 packs or more are launched in chunks along blockIdx.y,
// each gridDim.x·blockDim.x packs long.
__device__ __forceinline__ long long mog_unary_pack()
{
    return (long long)blockIdx.y * gridDim.x * blockDim.x + blockIdx.x * blockDim.x + threadIdx.x;
}

template <typename T>
__device__ __forceinline__ void mog_unary_forward(const T* __restrict__ x, T* __restrict__ y, long long count, int vec, mog_scalars s)
{
    constexpr int V = 16 / sizeof(T);
    const long long at = mog_unary_pack() * V;
    if (at >= count) return;
    const int n = (int)(count - at < V ? count - at : V);
    float v[V];
    mog_load_pack(x + at, n, vec, v);
#pragma unroll
    for (int k = 0; k < V; k++) v[k] = mog_forward<mog_fast_maths<T>::value>(v[k], s);
    mog_store_pack(y + at, n, vec, v);
}

template <typename T>
__device__ __forceinline__ void mog_unary_backward(const T* __restrict__ g, const T* __restrict__ x, T* __restrict__ dx,
                                                   long long count, int vec, mog_scalars s)
{
    constexpr int V = 16 / sizeof(T);
    const long long at = mog_unary_pack() * V;
    if (at >= count) return;
    const int n = (int)(count - at < V ? count - at : V);
    float v[V], gg[V], d[V];
    mog_load_pack(x + at, n, vec, v);
    mog_load_pack(g + at, n, vec, gg);
#pragma unroll
    for (int k = 0; k < V; k++) { float d_x; mog_value_and_gradients<mog_fast_maths<T>::value>(v[k], gg[k], s, d_x); d[k] = d_x; }
    mog_store_pack(dx + at, n, vec, d);
}
