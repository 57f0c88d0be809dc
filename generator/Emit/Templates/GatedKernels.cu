// ---- Gated kernels: input [rows, 2h] -> output [rows, h]; one template, instantiated per variant below ----
// Variants (template flags): W token weights w[rows] (fp32), B bias [2h] added after the clamp, C input clamp c
// (gate min(a, c), linear clip(b, -c, c), zero gradient outside, passing on the boundary), F8 FP8 input store.
// Layout (kernel argument): halves (gate = x[:, :h], linear = x[:, h:]) or interleaved (gate = x[:, 0::2]).
// Memory: each thread moves packs of V = 16 / sizeof(T) outputs with 16-byte loads when `vec` is set (the
// launcher checks alignment), scalar loads otherwise. Offsets are 64-bit; forward pack indices are 32-bit inside a
// launch chunk (mog_chunk_rows).

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
        *reinterpret_cast<uint4*>(row + col) = mog_store_pack16<T>(a);
        *reinterpret_cast<uint4*>(row + h + col) = mog_store_pack16<T>(b);
    } else if (vec) {
        *reinterpret_cast<uint4*>(row + 2 * col) = mog_store_pack16_pairs<T>(a, b);
        *reinterpret_cast<uint4*>(row + 2 * col + V) = mog_store_pack16_pairs<T>(a + V / 2, b + V / 2);
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) {                     // constant indices keep the values in registers
            if (k >= n) break;
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

// The forward keeps a pack's FP8 codes packed four to a 32-bit word (byte k of the pack in bits 8·(k mod 4) of word
// k / 4), never as a byte array: byte arrays written through a pointer into the store word put 48 bytes per thread in
// local memory, and the FP8 forward ran at 50 % of copy bandwidth against 98 % without the copy (H100; 2.7× the time).
template <int V> struct mog_codes { unsigned int w[V / 4]; };

__device__ __forceinline__ unsigned int mog_code(const unsigned int* words, int k) { return (words[k >> 2] >> (8 * (k & 3))) & 0xffu; }

template <int V>
__device__ __forceinline__ void mog_store_fp8_pair(unsigned char* __restrict__ row8, long long col, int n, long long h,
                                                   int interleaved, int vec, const mog_codes<V>& qa, const mog_codes<V>& qb)
{
    if (vec && !interleaved) {
        if (V == 4) {
            *reinterpret_cast<unsigned int*>(row8 + col) = qa.w[0];
            *reinterpret_cast<unsigned int*>(row8 + h + col) = qb.w[0];
        } else {
            *reinterpret_cast<uint2*>(row8 + col) = make_uint2(qa.w[0], qa.w[V / 4 - 1]);
            *reinterpret_cast<uint2*>(row8 + h + col) = make_uint2(qb.w[0], qb.w[V / 4 - 1]);
        }
    } else if (vec) {
        // Interleaved: gate and linear codes alternate, a0 b0 a1 b1 ... (__byte_perm picks bytes of {b, a}).
        unsigned int pairs[V / 2];
#pragma unroll
        for (int j = 0; j < V / 4; j++) {
            pairs[2 * j] = __byte_perm(qa.w[j], qb.w[j], 0x5140);
            pairs[2 * j + 1] = __byte_perm(qa.w[j], qb.w[j], 0x7362);
        }
        if (V == 4) *reinterpret_cast<uint2*>(row8 + 2 * col) = make_uint2(pairs[0], pairs[V / 2 - 1]);
        else *reinterpret_cast<uint4*>(row8 + 2 * col) = make_uint4(pairs[0], pairs[1 % (V / 2)], pairs[2 % (V / 2)], pairs[V / 2 - 1]);
    } else {
#pragma unroll
        for (int k = 0; k < V; k++) {                     // constant indices keep the values in registers
            if (k >= n) break;
            row8[mog_pair_index(col, k, h, interleaved, false)] = (unsigned char)mog_code(qa.w, k);
            row8[mog_pair_index(col, k, h, interleaved, true)] = (unsigned char)mog_code(qb.w, k);
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

// Rows per chunk of a forward launch: a pack's index inside its chunk, blockIdx.x·blockDim.x + threadIdx.x, stays
// below 2^31 however many rows the tensor has. The launcher computes the same number (CudaGatedLauncher).
__device__ __forceinline__ unsigned mog_chunk_rows(unsigned packs) { return 0x7fffffffu / packs; }

// V16: 16-byte packs of the halves layout, fixed at compile time (the _v16 entry points, which the launcher takes
// with a bias on that path): the run-time layout and tail handling cost the bias forward registers and issue slots.
template <typename T, bool W, bool B, bool C, bool F8, bool V16>
__device__ __forceinline__ void mog_gated_forward(
    const T* __restrict__ x, const float* __restrict__ w, const T* __restrict__ bias, T* __restrict__ out,
    unsigned char* __restrict__ x8, long long rows, long long h, int interleaved_layout, int vec_path, float c, mog_scalars s)
{
    // One pack per thread, no loop, 32-bit index arithmetic: on an H100 this moved 97-100 % of copy bandwidth where
    // a grid-stride loop over 64-bit (row, pack) indices moved 70-80 %, the loop's index updates and a 64-bit
    // division costing more issue slots than the 48 bytes of a pack hide. Pack i of chunk blockIdx.y is
    // (row, column col = p·V) with i = row·packs + p, the row counted from the chunk's first.
    constexpr int V = 16 / sizeof(T);
    const unsigned packs = (unsigned)((h + V - 1) / V);
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x, chunk_row = i / packs, p = i - chunk_row * packs;
    long long r = chunk_row;
    if (gridDim.y > 1) {                           // uniform: only tensors of 2^31 packs or more have chunks
        const unsigned chunk_rows = mog_chunk_rows(packs);
        if (chunk_row >= chunk_rows) return;
        r += (long long)blockIdx.y * chunk_rows;
    }
    if (r >= rows) return;
    const long long col = (long long)p * V;
    const int interleaved = V16 ? 0 : interleaved_layout, vec = V16 ? 1 : vec_path;
    const int n = V16 ? V : (int)(h - col < V ? h - col : V);
    float a[V], b[V], ba[V], bb[V], y[V];
    mog_codes<V> qa = {}, qb = {};
    mog_load_pair(x + r * 2 * h, col, n, h, interleaved, vec, a, b);
    if (B) mog_load_pair(bias, col, n, h, interleaved, vec, ba, bb);
    const float wr = W ? w[r] : 1.f;
#pragma unroll
    for (int k = 0; k < V; k++) {
        bool clipped_a = false, clipped_b = false;
        if (C) {                                       // written so that a NaN input stays NaN
            if (a[k] > c) { a[k] = c; clipped_a = true; }
            if (b[k] > c) { b[k] = c; clipped_b = true; } else if (b[k] < -c) { b[k] = -c; clipped_b = true; }
        }
        if (F8) {
            const unsigned int code_a = clipped_a ? 0x7fu : mog_fp8_encode(a[k]);
            const unsigned int code_b = clipped_b ? (b[k] > 0.f ? 0x7fu : 0xffu) : mog_fp8_encode(b[k]);
            qa.w[k >> 2] |= code_a << (8 * (k & 3));
            qb.w[k >> 2] |= code_b << (8 * (k & 3));
        }
        if (B) { a[k] += ba[k]; b[k] += bb[k]; }
        y[k] = mog_forward<mog_fast_maths<T>::value>(a[k], b[k], s) * wr;
    }
    if (F8) mog_store_fp8_pair<V>(x8 + r * 2 * h, col, n, h, interleaved, vec, qa, qb);
    mog_store_pack(out + r * h + col, n, vec, y);
}

// The backward's input pack as stored: x's values, or the codes of its FP8 copy x8 (the other pair is zeroed and
// unused). mog_clamp_backward_input turns element k into the clamped input at the point of use.
template <typename T, bool F8>
__device__ __forceinline__ void mog_load_backward_input(
    const T* __restrict__ x_row, const unsigned char* __restrict__ x8_row, long long col, int n, long long h,
    int interleaved, int vec, float* a, float* b, unsigned char* qa, unsigned char* qb)
{
    constexpr int V = 16 / sizeof(T);
    if (F8) {
        mog_load_fp8_pair<V>(x8_row, col, n, h, interleaved, vec, qa, qb);
#pragma unroll
        for (int k = 0; k < V; k++) { a[k] = 0.f; b[k] = 0.f; }
    } else {
        mog_load_pair(x_row, col, n, h, interleaved, vec, a, b);
#pragma unroll
        for (int k = 0; k < V; k++) { qa[k] = 0; qb[k] = 0; }
    }
}

// One element of that pack with the clamp applied: pass_* says whether the gradient passes the clamp. The FP8 copy
// stores a clipped element as NaN (its sign tells which end), since the clamp value itself need not be representable
// in E4M3. Called element by element inside the maths loop, so each element's two pass flags live for that element
// only. Computed for the whole pack up front, 16 flags stayed live across the maths: the clamped backward with a bias
// took 105 registers for GeGLU and 111 for SiTuGLU, against 88 and 96 now, and ran at 75.7 and 63.8 % of copy
// bandwidth alone at GPT-OSS width against 80.9 and 73.2 % (H100, nvcc 13, harness 13); no kernel measured slower.
template <bool C, bool F8>
__device__ __forceinline__ void mog_clamp_backward_input(float raw_a, float raw_b, unsigned char qa, unsigned char qb,
                                                         float c, float& a, float& b, bool& pass_a, bool& pass_b)
{
    if (F8) {
        pass_a = !(C && mog_fp8_is_nan(qa)); pass_b = !(C && mog_fp8_is_nan(qb));
        a = pass_a ? mog_fp8_decode(qa) : c;
        b = pass_b ? mog_fp8_decode(qb) : ((qb & 0x80u) ? -c : c);
    } else {
        a = raw_a; b = raw_b; pass_a = true; pass_b = true;
        if (C) {                                           // written so that a NaN input stays NaN
            if (a > c) { a = c; pass_a = false; }
            if (b > c) { b = c; pass_b = false; } else if (b < -c) { b = -c; pass_b = false; }
        }
    }
}

template <typename T, bool W, bool C, bool F8>
__device__ __forceinline__ void mog_gated_backward(
    const T* __restrict__ g, const T* __restrict__ x, const unsigned char* __restrict__ x8, const float* __restrict__ w,
    T* __restrict__ dx, float* __restrict__ dw, long long rows, long long h, int interleaved, int vec, float c, mog_scalars s)
{
    // Without a bias: one row per block, a thread owning the same packs of every row. The weights gradient of a row
    // (a dot product over the row) is summed per warp with shuffles, the warps' sums parked in shared memory, and
    // added across warps in warp order once every 32 rows: one barrier per 32 rows instead of two per row, and no
    // atomics, so it is deterministic.
    constexpr int V = 16 / sizeof(T);
    constexpr int SLOTS = 32;
    __shared__ float warp_sums[SLOTS][33];                // [row slot][warp], padded against bank conflicts
    const long long packs = (h + V - 1) / V;
    const int warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    int slot = 0;

    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        const float wr = W ? w[r] : 1.f;
        float acc = 0.f;
        for (long long p = threadIdx.x; p < packs; p += blockDim.x) {
            const long long col = p * V;
            const int n = (int)(h - col < V ? h - col : V);
            float a[V], b[V], gg[V], da[V], db[V];
            unsigned char qa[V], qb[V];
            mog_load_backward_input<T, F8>(x + r * 2 * h, x8 + r * 2 * h, col, n, h, interleaved, vec, a, b, qa, qb);
            mog_load_pack(g + r * h + col, n, vec, gg);
#pragma unroll
            for (int k = 0; k < V; k++) {
                float gate, linear, d_gate, d_linear;
                bool pass_a, pass_b;
                mog_clamp_backward_input<C, F8>(a[k], b[k], qa[k], qb[k], c, gate, linear, pass_a, pass_b);
                const float value = mog_value_and_gradients<mog_fast_maths<T>::value>(gate, linear, gg[k] * wr, s, d_gate, d_linear);
                if (W && k < n) acc += value * gg[k];
                da[k] = pass_a ? d_gate : 0.f;
                db[k] = pass_b ? d_linear : 0.f;
            }
            mog_store_pair(dx + r * 2 * h, col, n, h, interleaved, vec, da, db);
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
}

// With a bias: the bias gradient is a sum over all rows, so blocks own columns and walk rows. Block (x, y) takes the
// packs [y·blockDim.x, (y + 1)·blockDim.x) of the rows [x·rows_per_group, (x + 1)·rows_per_group), one pack per
// thread, so each thread sums its pack's bias gradient in registers and writes it once, as group x's partial
// (mog_reduce_bias adds the groups' partials in a fixed order). A row's weights gradient is then split over the
// column slices: each warp writes its partial dot product to dw_partial[(y·warps + warp)·rows + r], and
// mog_reduce_weights adds a row's partials in that order. No atomics, so both are the same run to run.
// (The earlier shape, a row per block with the bias sums in shared memory, ran at 62-71 % of copy bandwidth on an
// H100 at GPT-OSS width: 79 registers and 23 KiB of shared memory a block left 37.5 % occupancy, stalled on the
// shared-memory accumulators; this one, measured beside it, at 70-83 %.)
// V16: 16-byte packs of the halves layout, fixed at compile time (the launcher's _v16 entry points, its common
// case). The four bias sums and bias values a thread keeps across rows leave little room: with the layout and the
// vector path as run-time arguments the kernel took 84-125 registers against 72-87 (ptxas, sm_90), and the lost
// occupancy made it slower than the shared-memory kernel at Mixtral width.
template <typename T, bool W, bool C, bool F8, bool V16>
__device__ __forceinline__ void mog_gated_backward_bias(
    const T* __restrict__ g, const T* __restrict__ x, const unsigned char* __restrict__ x8, const float* __restrict__ w,
    const T* __restrict__ bias, T* __restrict__ dx, float* __restrict__ dw_partial, float* __restrict__ dbias_partial,
    long long rows, long long h, long long rows_per_group, int interleaved_layout, int vec_path, float c, mog_scalars s)
{
    constexpr int V = 16 / sizeof(T);
    const int interleaved = V16 ? 0 : interleaved_layout, vec = V16 ? 1 : vec_path;
    const long long packs = (h + V - 1) / V;
    const long long p = (long long)blockIdx.y * blockDim.x + threadIdx.x, col = p * V;
    const bool active = p < packs;                        // the last slice may overhang the row
    const int n = !active ? 0 : V16 ? V : (int)(h - col < V ? h - col : V);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const long long first = blockIdx.x * rows_per_group;
    const long long last = first + rows_per_group < rows ? first + rows_per_group : rows;
    float sum_a[V], sum_b[V], ba[V], bb[V];
#pragma unroll
    for (int k = 0; k < V; k++) { sum_a[k] = 0.f; sum_b[k] = 0.f; ba[k] = 0.f; bb[k] = 0.f; }
    if (active) mog_load_pair(bias, col, n, h, interleaved, vec, ba, bb);

    for (long long r = first; r < last; r++) {
        float dot = 0.f;
        if (active) {
            const float wr = W ? w[r] : 1.f;
            float a[V], b[V], gg[V], da[V], db[V];
            unsigned char qa[V], qb[V];
            mog_load_backward_input<T, F8>(x + r * 2 * h, x8 + r * 2 * h, col, n, h, interleaved, vec, a, b, qa, qb);
            mog_load_pack(g + r * h + col, n, vec, gg);
#pragma unroll
            for (int k = 0; k < V; k++) {
                float gate, linear, d_gate, d_linear;
                bool pass_a, pass_b;
                mog_clamp_backward_input<C, F8>(a[k], b[k], qa[k], qb[k], c, gate, linear, pass_a, pass_b);
                gate += ba[k]; linear += bb[k];           // the bias is added after the clamp
                const float value = mog_value_and_gradients<mog_fast_maths<T>::value>(gate, linear, gg[k] * wr, s, d_gate, d_linear);
                if (W && k < n) dot += value * gg[k];
                if (k < n) { sum_a[k] += d_gate; sum_b[k] += d_linear; }
                da[k] = pass_a ? d_gate : 0.f;
                db[k] = pass_b ? d_linear : 0.f;
            }
            mog_store_pair(dx + r * 2 * h, col, n, h, interleaved, vec, da, db);
        }
        if (W) {                                          // every thread of the warp reaches this, active or not
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
            if (lane == 0) dw_partial[((long long)blockIdx.y * warps + warp) * rows + r] = dot;
        }
    }
    // Group x's partial bias gradient, [2h] with the gate half first (mog_reduce_bias stores it in the input layout).
#pragma unroll
    for (int k = 0; k < V; k++) {                         // a constant index keeps the sums in registers
        if (k >= n) break;
        dbias_partial[blockIdx.x * 2 * h + col + k] = sum_a[k];
        dbias_partial[blockIdx.x * 2 * h + h + col + k] = sum_b[k];
    }
}

// dw[r] = row r's partial dot products (mog_gated_backward_bias) added in slice-then-warp order.
__device__ __forceinline__ void mog_reduce_weights(const float* __restrict__ dw_partial, float* __restrict__ dw,
                                                   long long rows, int parts)
{
    for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows; r += (long long)gridDim.x * blockDim.x) {
        float sum = 0.f;
        for (int k = 0; k < parts; k++) sum += dw_partial[k * rows + r];
        dw[r] = sum;
    }
}

// dbias[j] = sum over the backward's row groups' partials, stored in the input layout. A block takes 32 columns; warp s
// of its blockDim.x / 32 warps sums partials s, s + warps, ... into four accumulators in turn (partial s + 4i·warps
// into the first, s + (4i + 1)·warps into the second, ...; any rest into the first), then adds them in order, and
// warp 0 adds the warps' sums in warp order: a fixed order, so the result is the same run to run. The four
// accumulators keep four loads in flight a warp: with one, each warp waited for every load in turn (9.9 µs against
// 5.2 µs for 307 partials at GPT-OSS width, 13.1 against 5.8 µs at DeepSeek-V3's on an H100, harness 12). (A thread
// per column summing every partial left most of the GPU idle: 49 µs against 7 µs for 1056 partials.)
template <typename T>
__device__ __forceinline__ void mog_reduce_bias(const float* __restrict__ partial, T* __restrict__ dbias,
                                                long long parts, long long h, int interleaved)
{
    __shared__ float sums[32][33];                       // [warp][column], padded against bank conflicts
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (long long first = blockIdx.x * 32LL; first < 2 * h; first += gridDim.x * 32LL) {
        const long long j = first + lane;
        float acc[4] = {0.f, 0.f, 0.f, 0.f};
        if (j < 2 * h) {
            long long p = warp;
            for (; p + 3LL * warps < parts; p += 4LL * warps)
#pragma unroll
                for (int u = 0; u < 4; u++) acc[u] += partial[(p + u * warps) * 2 * h + j];
            for (; p < parts; p += warps) acc[0] += partial[p * 2 * h + j];
        }
        float sum = 0.f;
#pragma unroll
        for (int u = 0; u < 4; u++) sum += acc[u];
        sums[warp][lane] = sum;
        __syncthreads();
        if (warp == 0 && j < 2 * h) {
            float total = 0.f;
            for (int k = 0; k < warps; k++) total += sums[k][lane];
            const long long at = interleaved ? (j < h ? 2 * j : 2 * (j - h) + 1) : j;
            dbias[at] = mog_store<T>(total);
        }
        __syncthreads();
    }
}

// Forward entry points with a bias and the layout as a run-time argument: the bias pack pair raises the kernel to 48
// registers (5 blocks of 256 per SM); capping it at 40 (6 blocks) took weighted+bias SwiGLU forward from 94 % to 97 %
// of copy bandwidth on an H100, with the clamp from 86 % to 92 %. 32 registers (8 blocks) spilled and ran slower.
// The _v16 entry points (16-byte halves path at compile time) need 32 registers uncapped and are not capped: on an
// H100 such a kernel moved 100-102 % of copy bandwidth with and without the clamp at all three model widths, against
// 92-98 % for the capped one (harness 8). The block is the launcher's 256 (CudaLaunchShapes.PackBlock).
#define MOG_BIAS_FORWARD_BOUNDS __launch_bounds__(256, 6)
