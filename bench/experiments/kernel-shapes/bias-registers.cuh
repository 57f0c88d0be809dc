// Measurement harness 5 (not product code): a candidate backward with bias for a later decision. Each block takes a
// slice of the row's packs (one pack per thread) over a group of rows, so a thread owns one pack of the bias and
// sums its gradient in registers: no shared-memory accumulators (the stall ncu found in the generated kernel).
// The weights gradient of a row is then split over the slices: each warp writes its partial dot product, and a
// second kernel adds the (slices × warps) partials of a row in a fixed order. SwiGLU-family maths of the included
// generated module, halves layout, 16-byte packs only.
template <typename T, bool C>
__global__ void bias_regs_backward(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ w,
                                   const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw_partial,
                                   float* __restrict__ dbias_partial, long long rows, long long h, int rows_per_group,
                                   float c, mog_scalars s)
{
    constexpr int V = 16 / sizeof(T);
    const long long packs = h / V;
    const long long p = (long long)blockIdx.y * blockDim.x + threadIdx.x, col = p * V;
    const bool active = p < packs;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const long long first = (long long)blockIdx.x * rows_per_group;
    const long long last = first + rows_per_group < rows ? first + rows_per_group : rows;
    float sum_a[V], sum_b[V], ba[V], bb[V];
#pragma unroll
    for (int k = 0; k < V; k++) { sum_a[k] = 0.f; sum_b[k] = 0.f; ba[k] = 0.f; bb[k] = 0.f; }
    if (active) mog_load_pair(bias, col, V, h, 0, 1, ba, bb);
    for (long long r = first; r < last; r++) {
        float dot = 0.f;
        if (active) {
            float a[V], b[V], gg[V], da[V], db[V];
            mog_load_pair(x + r * 2 * h, col, V, h, 0, 1, a, b);
            mog_load_pack(g + r * h + col, V, 1, gg);
            const float wr = w[r];
#pragma unroll
            for (int k = 0; k < V; k++) {
                bool pass_a = true, pass_b = true;
                if (C) {
                    if (a[k] > c) { a[k] = c; pass_a = false; }
                    if (b[k] > c) { b[k] = c; pass_b = false; } else if (b[k] < -c) { b[k] = -c; pass_b = false; }
                }
                a[k] += ba[k]; b[k] += bb[k];
                float d_gate, d_linear;
                const float value = mog_value_and_gradients<mog_fast_maths<T>::value>(a[k], b[k], gg[k] * wr, s, d_gate, d_linear);
                dot += value * gg[k];
                sum_a[k] += d_gate; sum_b[k] += d_linear;
                da[k] = pass_a ? d_gate : 0.f; db[k] = pass_b ? d_linear : 0.f;
            }
            mog_store_pair(dx + r * 2 * h, col, V, h, 0, 1, da, db);
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
        if (lane == 0) dw_partial[((long long)blockIdx.y * warps + warp) * rows + r] = dot;
    }
    if (active) {
#pragma unroll
        for (int k = 0; k < V; k++) {
            dbias_partial[(long long)blockIdx.x * 2 * h + col + k] = sum_a[k];
            dbias_partial[(long long)blockIdx.x * 2 * h + h + col + k] = sum_b[k];
        }
    }
}

// dw[r] = the row's partial dot products added in (slice, warp) order.
__global__ void bias_regs_reduce_dw(const float* __restrict__ dw_partial, float* __restrict__ dw, long long rows, int parts)
{
    for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows; r += (long long)gridDim.x * blockDim.x) {
        float sum = 0.f;
        for (int k = 0; k < parts; k++) sum += dw_partial[k * rows + r];
        dw[r] = sum;
    }
}
