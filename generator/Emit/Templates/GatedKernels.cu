// ---- Gated kernels: input [rows, 2h] -> output [rows, h]; one template, instantiated per variant below ----
// Variants (template flags): W token weights w[rows] (fp32), B bias [2h] added after the clamp, C input clamp c
// (gate min(a, c), linear clip(b, -c, c), zero gradient outside, passing on the boundary), F8 FP8 input store.
// Layout (kernel argument): halves (gate = x[:, :h], linear = x[:, h:]) or interleaved (gate = x[:, 0::2]).
// Memory: each thread moves packs of V = 16 / sizeof(T) outputs with 16-byte loads when `vec` is set (the
// launcher checks alignment), scalar loads otherwise. Offsets are 64-bit.

template <typename T>
__device__ __forceinline__ void mog_load_pair(const T* __restrict__ row, long long col, int n, long long h,
                                              int interleaved, int vec, float* a, float* b)
{
    constexpr int V = 16 / sizeof(T);
    if (vec && !interleaved) {
        uint4 pa = *reinterpret_cast<const uint4*>(row + col), pb = *reinterpret_cast<const uint4*>(row + h + col);
        const T* ta = reinterpret_cast<const T*>(&pa); const T* tb = reinterpret_cast<const T*>(&pb);
#pragma unroll
        for (int k = 0; k < V; k++) { a[k] = mog_load(ta[k]); b[k] = mog_load(tb[k]); }
    } else if (vec) {
        uint4 p0 = *reinterpret_cast<const uint4*>(row + 2 * col), p1 = *reinterpret_cast<const uint4*>(row + 2 * col + V);
        const T* t0 = reinterpret_cast<const T*>(&p0); const T* t1 = reinterpret_cast<const T*>(&p1);
#pragma unroll
        for (int k = 0; k < V / 2; k++) {
            a[k] = mog_load(t0[2 * k]); b[k] = mog_load(t0[2 * k + 1]);
            a[V / 2 + k] = mog_load(t1[2 * k]); b[V / 2 + k] = mog_load(t1[2 * k + 1]);
        }
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) {
            if (k >= n) { a[k] = 0.f; b[k] = 0.f; continue; }
            long long ia = interleaved ? 2 * (col + k) : col + k, ib = interleaved ? ia + 1 : h + col + k;
            a[k] = mog_load(row[ia]); b[k] = mog_load(row[ib]);
        }
    }
}

template <typename T>
__device__ __forceinline__ void mog_store_pair(T* __restrict__ row, long long col, int n, long long h,
                                               int interleaved, int vec, const float* a, const float* b)
{
    constexpr int V = 16 / sizeof(T);
    if (vec && !interleaved) {
        uint4 pa, pb; T* ta = reinterpret_cast<T*>(&pa); T* tb = reinterpret_cast<T*>(&pb);
#pragma unroll
        for (int k = 0; k < V; k++) { ta[k] = mog_store<T>(a[k]); tb[k] = mog_store<T>(b[k]); }
        *reinterpret_cast<uint4*>(row + col) = pa; *reinterpret_cast<uint4*>(row + h + col) = pb;
    } else if (vec) {
        uint4 p0, p1; T* t0 = reinterpret_cast<T*>(&p0); T* t1 = reinterpret_cast<T*>(&p1);
#pragma unroll
        for (int k = 0; k < V / 2; k++) {
            t0[2 * k] = mog_store<T>(a[k]); t0[2 * k + 1] = mog_store<T>(b[k]);
            t1[2 * k] = mog_store<T>(a[V / 2 + k]); t1[2 * k + 1] = mog_store<T>(b[V / 2 + k]);
        }
        *reinterpret_cast<uint4*>(row + 2 * col) = p0; *reinterpret_cast<uint4*>(row + 2 * col + V) = p1;
    } else {
        for (int k = 0; k < n; k++) {
            long long ia = interleaved ? 2 * (col + k) : col + k, ib = interleaved ? ia + 1 : h + col + k;
            row[ia] = mog_store<T>(a[k]); row[ib] = mog_store<T>(b[k]);
        }
    }
}

// The FP8 copy has the input's layout, one byte per element: a pack's V gate and V linear codes are one 2V-byte
// word (interleaved) or two V-byte words (halves) on the vector path, so the copy is written and read with
// wide accesses too. Word offsets are multiples of their size because h is a multiple of V there.
template <int N> struct mog_word;
template <> struct mog_word<4> { typedef unsigned int type; };
template <> struct mog_word<8> { typedef uint2 type; };
template <> struct mog_word<16> { typedef uint4 type; };

__device__ __forceinline__ long long mog_pair_index(long long col, int k, long long h, int interleaved, bool linear)
{
    return interleaved ? 2 * (col + k) + (linear ? 1 : 0) : (linear ? h : 0) + col + k;
}

template <int V>
__device__ __forceinline__ void mog_store_fp8_pair(unsigned char* __restrict__ row8, long long col, int n, long long h,
                                                   int interleaved, int vec, const unsigned char* qa, const unsigned char* qb)
{
    if (vec && !interleaved) {
        typename mog_word<V>::type wa, wb;
        unsigned char* ba = reinterpret_cast<unsigned char*>(&wa); unsigned char* bb = reinterpret_cast<unsigned char*>(&wb);
#pragma unroll
        for (int k = 0; k < V; k++) { ba[k] = qa[k]; bb[k] = qb[k]; }
        *reinterpret_cast<typename mog_word<V>::type*>(row8 + col) = wa;
        *reinterpret_cast<typename mog_word<V>::type*>(row8 + h + col) = wb;
    } else if (vec) {
        typename mog_word<2 * V>::type wp;
        unsigned char* bp = reinterpret_cast<unsigned char*>(&wp);
#pragma unroll
        for (int k = 0; k < V; k++) { bp[2 * k] = qa[k]; bp[2 * k + 1] = qb[k]; }
        *reinterpret_cast<typename mog_word<2 * V>::type*>(row8 + 2 * col) = wp;
    } else {
        for (int k = 0; k < n; k++) {
            row8[mog_pair_index(col, k, h, interleaved, false)] = qa[k];
            row8[mog_pair_index(col, k, h, interleaved, true)] = qb[k];
        }
    }
}

template <int V>
__device__ __forceinline__ void mog_load_fp8_pair(const unsigned char* __restrict__ row8, long long col, int n, long long h,
                                                  int interleaved, int vec, unsigned char* qa, unsigned char* qb)
{
    if (vec && !interleaved) {
        const typename mog_word<V>::type wa = *reinterpret_cast<const typename mog_word<V>::type*>(row8 + col);
        const typename mog_word<V>::type wb = *reinterpret_cast<const typename mog_word<V>::type*>(row8 + h + col);
        const unsigned char* ba = reinterpret_cast<const unsigned char*>(&wa);
        const unsigned char* bb = reinterpret_cast<const unsigned char*>(&wb);
#pragma unroll
        for (int k = 0; k < V; k++) { qa[k] = ba[k]; qb[k] = bb[k]; }
    } else if (vec) {
        const typename mog_word<2 * V>::type wp = *reinterpret_cast<const typename mog_word<2 * V>::type*>(row8 + 2 * col);
        const unsigned char* bp = reinterpret_cast<const unsigned char*>(&wp);
#pragma unroll
        for (int k = 0; k < V; k++) { qa[k] = bp[2 * k]; qb[k] = bp[2 * k + 1]; }
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) {
            qa[k] = k < n ? row8[mog_pair_index(col, k, h, interleaved, false)] : 0;
            qb[k] = k < n ? row8[mog_pair_index(col, k, h, interleaved, true)] : 0;
        }
    }
}

// Each thread keeps two packs' loads in flight: every kernel below loads both of its packs (mog_*_load) before it
// computes and stores either (mog_*_finish). With one pack per step a thread waits out a full memory latency
// per 16 bytes, and the register-limited number of resident threads cannot hide it at HBM3 bandwidth.

// ---- Forward ----
template <typename T>
struct mog_forward_pack { float a[16 / sizeof(T)], b[16 / sizeof(T)], ba[16 / sizeof(T)], bb[16 / sizeof(T)]; long long r, col; int n; };

template <typename T, bool B>
__device__ __forceinline__ void mog_forward_load(mog_forward_pack<T>& u, const T* __restrict__ x, const T* __restrict__ bias,
                                                 long long r, long long p, long long h, int interleaved, int vec)
{
    constexpr int V = 16 / sizeof(T);
    u.r = r; u.col = p * V; u.n = (int)(h - u.col < V ? h - u.col : V);
    mog_load_pair(x + r * 2 * h, u.col, u.n, h, interleaved, vec, u.a, u.b);
    if (B) mog_load_pair(bias, u.col, u.n, h, interleaved, vec, u.ba, u.bb);
}

template <typename T, bool W, bool B, bool C, bool F8>
__device__ __forceinline__ void mog_forward_finish(mog_forward_pack<T>& u, const float* __restrict__ w, T* __restrict__ out,
                                                   unsigned char* __restrict__ x8, long long h, int interleaved, int vec,
                                                   float c, const mog_scalars& s)
{
    constexpr int V = 16 / sizeof(T);
    const float wr = W ? w[u.r] : 1.f;
    unsigned char qa[V], qb[V];
#pragma unroll
    for (int k = 0; k < V; k++) {
        bool clipped_a = false, clipped_b = false;
        if (C) {                                       // written so that a NaN input stays NaN
            if (u.a[k] > c) { u.a[k] = c; clipped_a = true; }
            if (u.b[k] > c) { u.b[k] = c; clipped_b = true; } else if (u.b[k] < -c) { u.b[k] = -c; clipped_b = true; }
        }
        if (F8) {
            qa[k] = clipped_a ? (unsigned char)0x7f : mog_fp8_encode(u.a[k]);
            qb[k] = clipped_b ? (unsigned char)(u.b[k] > 0.f ? 0x7f : 0xff) : mog_fp8_encode(u.b[k]);
        }
        if (B) { u.a[k] += u.ba[k]; u.b[k] += u.bb[k]; }
        u.a[k] = mog_forward(u.a[k], u.b[k], s) * wr;  // the output, in place
    }
    if (F8) mog_store_fp8_pair<V>(x8 + u.r * 2 * h, u.col, u.n, h, interleaved, vec, qa, qb);
    mog_store_pack(out + u.r * h + u.col, u.n, vec, u.a);
}

template <typename T, bool W, bool B, bool C, bool F8>
__device__ __forceinline__ void mog_gated_forward(
    const T* __restrict__ x, const float* __restrict__ w, const T* __restrict__ bias, T* __restrict__ out,
    unsigned char* __restrict__ x8, long long rows, long long h, int interleaved, int vec, float c, mog_scalars s)
{
    constexpr int V = 16 / sizeof(T);
    const long long packs = (h + V - 1) / V, total = rows * packs;
    // Pack i is (row r, column col = p·V) with i = r·packs + p. A thread takes packs i and i + stride, then
    // moves on by 2·stride; (r, p) advance by additions (the strides split into rows and packs once) instead
    // of a 64-bit division per pack.
    const long long stride = (long long)gridDim.x * blockDim.x, first = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    const long long stride_rows = stride / packs, stride_packs = stride - stride_rows * packs;
    const long long step_rows = (2 * stride) / packs, step_packs = 2 * stride - step_rows * packs;
    long long r0 = first / packs, p0 = first - r0 * packs;
    long long r1 = r0 + stride_rows, p1 = p0 + stride_packs;
    if (p1 >= packs) { p1 -= packs; r1++; }
    for (long long i = first; i < total; i += 2 * stride) {
        const bool second = i + stride < total;
        mog_forward_pack<T> u0, u1;
        mog_forward_load<T, B>(u0, x, bias, r0, p0, h, interleaved, vec);
        if (second) mog_forward_load<T, B>(u1, x, bias, r1, p1, h, interleaved, vec);
        mog_forward_finish<T, W, B, C, F8>(u0, w, out, x8, h, interleaved, vec, c, s);
        if (second) mog_forward_finish<T, W, B, C, F8>(u1, w, out, x8, h, interleaved, vec, c, s);
        r0 += step_rows; p0 += step_packs; if (p0 >= packs) { p0 -= packs; r0++; }
        r1 += step_rows; p1 += step_packs; if (p1 >= packs) { p1 -= packs; r1++; }
    }
}

// ---- Backward ----
template <typename T>
struct mog_backward_pack { float a[16 / sizeof(T)], b[16 / sizeof(T)], ba[16 / sizeof(T)], bb[16 / sizeof(T)], g[16 / sizeof(T)];
                           unsigned char qa[16 / sizeof(T)], qb[16 / sizeof(T)]; long long p, col; int n; };

template <typename T, bool B, bool F8>
__device__ __forceinline__ void mog_backward_load(mog_backward_pack<T>& u, const T* __restrict__ g, const T* __restrict__ x,
                                                  const unsigned char* __restrict__ x8, const T* __restrict__ bias,
                                                  long long r, long long p, long long h, int interleaved, int vec)
{
    constexpr int V = 16 / sizeof(T);
    u.p = p; u.col = p * V; u.n = (int)(h - u.col < V ? h - u.col : V);
    if (F8) mog_load_fp8_pair<V>(x8 + r * 2 * h, u.col, u.n, h, interleaved, vec, u.qa, u.qb);
    else mog_load_pair(x + r * 2 * h, u.col, u.n, h, interleaved, vec, u.a, u.b);
    if (B) mog_load_pair(bias, u.col, u.n, h, interleaved, vec, u.ba, u.bb);
    mog_load_pack(g + r * h + u.col, u.n, vec, u.g);
}

// Computes one pack's input gradient (stored), adds its weights-gradient terms to acc and its bias-gradient
// terms to the thread's accumulators in dbias ([element k][pack] layout, see mog_gated_backward).
template <typename T, bool W, bool B, bool C, bool F8>
__device__ __forceinline__ void mog_backward_finish(mog_backward_pack<T>& u, T* __restrict__ dx, float* dbias, long long r,
                                                    long long packs, long long h, int interleaved, int vec, float c,
                                                    float wr, const mog_scalars& s, float& acc)
{
    constexpr int V = 16 / sizeof(T);
    bool pass_a[V], pass_b[V];
#pragma unroll
    for (int k = 0; k < V; k++) {
        if (F8) {                                      // a NaN code is a clamped input: its sign says +c or -c
            pass_a[k] = !(C && mog_fp8_is_nan(u.qa[k])); pass_b[k] = !(C && mog_fp8_is_nan(u.qb[k]));
            u.a[k] = pass_a[k] ? mog_fp8_decode(u.qa[k]) : c;
            u.b[k] = pass_b[k] ? mog_fp8_decode(u.qb[k]) : ((u.qb[k] & 0x80u) ? -c : c);
        } else {
            pass_a[k] = true; pass_b[k] = true;
            if (C) {
                if (u.a[k] > c) { u.a[k] = c; pass_a[k] = false; }
                if (u.b[k] > c) { u.b[k] = c; pass_b[k] = false; } else if (u.b[k] < -c) { u.b[k] = -c; pass_b[k] = false; }
            }
        }
    }
#pragma unroll
    for (int k = 0; k < V; k++) {
        if (B) { u.a[k] += u.ba[k]; u.b[k] += u.bb[k]; }
        float d_gate, d_linear;
        const float value = mog_value_and_gradients(u.a[k], u.b[k], u.g[k] * wr, s, d_gate, d_linear);
        if (W && k < u.n) acc += value * u.g[k];
        if (B && k < u.n) { dbias[k * packs + u.p] += d_gate; dbias[(V + k) * packs + u.p] += d_linear; }
        u.a[k] = pass_a[k] ? d_gate : 0.f;             // the input gradient, in place
        u.b[k] = pass_b[k] ? d_linear : 0.f;
    }
    mog_store_pair(dx + r * 2 * h, u.col, u.n, h, interleaved, vec, u.a, u.b);
}

template <typename T, bool W, bool B, bool C, bool F8>
__device__ __forceinline__ void mog_gated_backward(
    const T* __restrict__ g, const T* __restrict__ x, const unsigned char* __restrict__ x8, const float* __restrict__ w,
    const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw, float* __restrict__ dbias_partial,
    long long rows, long long h, int interleaved, int vec, float c, mog_scalars s)
{
    // One row per block, a thread owning the same packs of every row (p and p + blockDim.x, loaded together), so:
    // - the bias gradient of a column is accumulated by the one thread that owns it, in shared memory laid out
    //   [element k of a pack][pack] (consecutive threads hit consecutive banks), then written as this block's
    //   partial sum; mog_reduce_bias adds the partials in a fixed order;
    // - the weights gradient of a row (a dot product over the row) is summed per warp with shuffles, the warps'
    //   sums parked in shared memory, and added across warps in warp order once every 32 rows: one barrier per
    //   32 rows instead of two per row, and no atomics, so it is deterministic.
    constexpr int V = 16 / sizeof(T);
    constexpr int SLOTS = 32;
    extern __shared__ float mog_dbias[];                  // 2·V·packs floats when B
    __shared__ float warp_sums[SLOTS][33];                // [row slot][warp], padded against bank conflicts
    const long long packs = (h + V - 1) / V;
    const int warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    if (B) { for (long long j = threadIdx.x; j < 2 * V * packs; j += blockDim.x) mog_dbias[j] = 0.f; }
    int slot = 0;

    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float wr = W ? w[r] : 1.f;
        float acc = 0.f;
        for (long long p0 = threadIdx.x; p0 < packs; p0 += 2 * (long long)blockDim.x) {
            const long long p1 = p0 + blockDim.x;
            const bool second = p1 < packs;
            mog_backward_pack<T> u0, u1;
            mog_backward_load<T, B, F8>(u0, g, x, x8, bias, r, p0, h, interleaved, vec);
            if (second) mog_backward_load<T, B, F8>(u1, g, x, x8, bias, r, p1, h, interleaved, vec);
            mog_backward_finish<T, W, B, C, F8>(u0, dx, mog_dbias, r, packs, h, interleaved, vec, c, wr, s, acc);
            if (second) mog_backward_finish<T, W, B, C, F8>(u1, dx, mog_dbias, r, packs, h, interleaved, vec, c, wr, s, acc);
        }
        if (W) {
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
            if ((threadIdx.x & 31) == 0) warp_sums[slot][warp] = acc;
            // r is the same in every thread of the block, so every thread takes this branch together.
            if (++slot == SLOTS || r + gridDim.x >= rows) {
                __syncthreads();
                if (threadIdx.x < slot) {                 // the row of slot t was r - (slot - 1 - t)·gridDim.x
                    float v = 0.f;
                    for (int k = 0; k < warps; k++) v += warp_sums[threadIdx.x][k];
                    dw[r - (long long)(slot - 1 - threadIdx.x) * gridDim.x] = v;
                }
                __syncthreads();
                slot = 0;
            }
        }
    }
    if (B) {
        __syncthreads();
        for (long long j = threadIdx.x; j < 2 * h; j += blockDim.x) {
            const long long linear = j >= h ? 1 : 0, column = j - linear * h, p = column / V;
            const int k = (int)(column - p * V);
            dbias_partial[blockIdx.x * 2 * h + j] = mog_dbias[(linear * V + k) * packs + p];
        }
    }
}

// dbias[j] = sum over the backward blocks' partials, in block order (deterministic), stored in the input layout.
template <typename T>
__device__ __forceinline__ void mog_reduce_bias(const float* __restrict__ partial, T* __restrict__ dbias,
                                                long long parts, long long h, int interleaved)
{
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < 2 * h; j += (long long)gridDim.x * blockDim.x) {
        float sum = 0.f;
        for (long long p = 0; p < parts; p++) sum += partial[p * 2 * h + j];
        const long long at = interleaved ? (j < h ? 2 * j : 2 * (j - h) + 1) : j;
        dbias[at] = mog_store<T>(sum);
    }
}
