using System.Collections.Generic;

namespace MoeOpGen.Bench;

/// <summary>
/// The least DRAM traffic (bytes read + written) of one fused kernel doing an operation: GB/s = these bytes / time,
/// compared with the copy bandwidth. Symbols: R rows, H hidden (input 2H), E element size of the dtype, weights and
/// probs fp32 (4 bytes); routing: T tokens, P permute hidden, X experts, N = T·topk routed rows, indices int64 (8).
/// The formulas are those of the peers script's BYTE_MODEL, so the two files' GB/s are comparable.
/// </summary>
internal static class ByteModel
{
    public static readonly Dictionary<string, string> Description = new()
    {
        ["gated fwd"] = "read y R·2H·E (+ weights R·4) (+ bias 2H·E) + write out R·H·E",
        ["gated bwd"] = "read grad R·H·E + y R·2H·E (+ weights R·4) (+ bias 2H·E) + write dy R·2H·E (+ dweights R·4) (+ dbias 2H·E)",
        ["gated fwd+bwd"] = "fwd + bwd; fp8 store: fwd also writes y as E4M3 (R·2H·1) and bwd reads that instead of y; "
                            + "the clamp adds nothing (clamped in registers); leaf or not, the same bytes (the leaf's extra clone is overhead)",
        ["copy"] = "read + write of the copied tensor",
        ["permute fwd"] = "read tokens T·P·E + routing map T·X·1 (+ probs T·X·4) + write N·P·E + indices N·8 (+ probs N·4)",
        ["permute bwd"] = "read grad N·P·E + indices N·8 (+ probs grad N·4) + write dtokens T·P·E (+ dprobs T·X·4)",
        ["unpermute fwd"] = "read N·P·E + indices N·8 (+ probs T·X·4 + map T·X·1) + write T·P·E",
        ["unpermute bwd"] = "read grad T·P·E + indices N·8 + write N·P·E (+ probs: read rows N·P·E again for dprobs, write dprobs T·X·4)",
    };

    /// <summary>Gated forward: read y (R·2H·E), weights (R·4), bias (2H·E); write out (R·H·E); with the FP8 store
    /// also write the E4M3 copy of y (R·2H·1).</summary>
    public static long GatedForward(long r, long h, int e, GatedVariant v)
        => r * 2 * h * e + r * h * e + (v.Weights ? r * 4 : 0) + (v.Bias ? 2 * h * e : 0) + (v.Fp8 ? r * 2 * h : 0);

    /// <summary>Gated backward with the weights gradient: read grad (R·H·E) and y (R·2H·E, or its E4M3 copy R·2H·1),
    /// weights (R·4), bias (2H·E); write dy (R·2H·E), dweights (R·4), dbias (2H·E).</summary>
    public static long GatedBackward(long r, long h, int e, GatedVariant v)
        => r * h * e + (v.Fp8 ? r * 2 * h : r * 2 * h * e) + r * 2 * h * e
           + (v.Weights ? 2 * r * 4 : 0) + (v.Bias ? 2 * 2 * h * e : 0);

    public static long GatedForwardBackward(long r, long h, int e, GatedVariant v) => GatedForward(r, h, e, v) + GatedBackward(r, h, e, v);

    /// <summary>Permute forward: read tokens T·P·E, map T·X·1 (+ probs T·X·4); write N·P·E, indices N·8 (+ probs N·4).</summary>
    public static long PermuteForward(long t, long p, long x, long n, int e, bool probs)
        => t * p * e + t * x + n * p * e + n * 8 + (probs ? t * x * 4 + n * 4 : 0);

    /// <summary>Permute backward: read grad N·P·E, indices N·8 (+ probs grad N·4); write dtokens T·P·E (+ dprobs T·X·4).</summary>
    public static long PermuteBackward(long t, long p, long x, long n, int e, bool probs)
        => n * p * e + n * 8 + t * p * e + (probs ? n * 4 + t * x * 4 : 0);

    /// <summary>Unpermute forward: read N·P·E, indices N·8 (+ probs T·X·4 and map T·X·1); write T·P·E.</summary>
    public static long UnpermuteForward(long t, long p, long x, long n, int e, bool probs)
        => n * p * e + n * 8 + t * p * e + (probs ? t * x * 5 : 0);

    /// <summary>Unpermute backward: read grad T·P·E, indices N·8; write N·P·E; with probs also read the rows again
    /// (N·P·E, for dprobs = Σ_h x·g) and the probs (T·X·4) and write dprobs (T·X·4).</summary>
    public static long UnpermuteBackward(long t, long p, long x, long n, int e, bool probs)
        => t * p * e + n * 8 + n * p * e + (probs ? n * p * e + t * x * 8 : 0);
}
