using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeOpGen.Tests.Routing;

/// <summary>
/// One routing problem with everything needed to predict its results exactly on the host: tokens, routing map,
/// probs, layout, and the upstream gradients of a loss over every output.
/// </summary>
/// <remarks>
/// All values are small dyadic rationals (tokens and upstream weights are multiples of 1/4 in [−2, 2], probs
/// multiples of 1/64 or 1/128), so every product and every sum the routing computes is exact in fp32: the only
/// rounding left is the one cast to the tokens' dtype, which all paths share. The expected results are therefore
/// exact, and the fused and non-fused paths on every device must reproduce them bit for bit. Half-precision cases
/// are kept to few copies per token (see <see cref="Random"/>) so that the non-fused backward, which sums the
/// copies' gradients in the tokens' dtype, stays exact too.
/// </remarks>
internal sealed class RoutingCase
{
    private RoutingCase(string description, long tokens, int experts, long hidden, ScalarType dtype, bool[] routed,
                        double[] x, double[] p, long? numOutTokens, bool dropAndPad, Random random)
    {
        Description = description;
        TokenCount = tokens;
        Experts = experts;
        Hidden = hidden;
        Dtype = dtype;
        Routed = routed;
        X = x;
        P = p;
        NumOutTokens = numOutTokens;
        DropAndPad = dropAndPad;
        (RowToken, RowExpert) = ExpectedLayout();
        RowWeights = Quarters(random, RowCount * hidden);
        ProbWeights = Quarters(random, RowCount);
        OutputWeights = Quarters(random, tokens * hidden);
    }

    public string Description { get; }
    public long TokenCount { get; }
    public int Experts { get; }
    public long Hidden { get; }
    public ScalarType Dtype { get; }
    public long? NumOutTokens { get; }
    public bool DropAndPad { get; }

    /// <summary>Whether the rows have the capacity layout: drop-and-pad with <see cref="NumOutTokens"/> (without it
    /// Permute is dropless). Unpermute's flag means this, as in the reference, whose unpermute would read a dropless
    /// layout as E blocks of capacity rows.</summary>
    public bool CapacityLayout => DropAndPad && NumOutTokens is not null;

    /// <summary>Routing map, row-major <c>[T, E]</c>.</summary>
    public bool[] Routed { get; }

    /// <summary>Tokens <c>[T, H]</c>.</summary>
    public double[] X { get; }

    /// <summary>Probs <c>[T, E]</c> (fp32 values).</summary>
    public double[] P { get; }

    /// <summary>The order contract: row <c>r</c> of the permuted output holds token <c>RowToken[r]</c> for expert
    /// <c>RowExpert[r]</c> (expert-major, token-ascending; with a capacity, routed tokens then padding).</summary>
    public long[] RowToken { get; }
    public int[] RowExpert { get; }
    public long RowCount => RowToken.LongLength;

    /// <summary>Upstream gradients: of the permuted rows <c>[R, H]</c>, the permuted probs <c>[R]</c> and the
    /// probs-weighted unpermute output <c>[T, H]</c>.</summary>
    public double[] RowWeights { get; }
    public double[] ProbWeights { get; }
    public double[] OutputWeights { get; }

    /// <summary>A case for an explicit routing map; tokens, probs and upstream gradients drawn from <paramref name="seed"/>.</summary>
    public static RoutingCase Create(string description, bool[] routed, long tokens, int experts, long hidden, ScalarType dtype,
                                     long? numOutTokens, bool dropAndPad, int seed, bool unroutedProbs = true)
    {
        var random = new Random(seed);
        return new(description, tokens, experts, hidden, dtype, routed, Quarters(random, tokens * hidden),
                   Probs(random, routed, unroutedProbs), numOutTokens, dropAndPad, random);
    }

    /// <summary>A top-k routing (each token to <paramref name="k"/> distinct random experts), drawn from <paramref name="seed"/>.</summary>
    public static RoutingCase TopK(long tokens, int experts, int k, long hidden, ScalarType dtype, long? numOutTokens, bool dropAndPad, int seed)
    {
        var routed = RouteTopK(new Random(seed), tokens, experts, k, experts);
        string description = $"top-{k} T={tokens} E={experts} H={hidden} {dtype}" + (dropAndPad ? $" dropAndPad numOutTokens={numOutTokens}" : "");
        return Create(description, routed, tokens, experts, hidden, dtype, numOutTokens, dropAndPad, seed + 1);
    }

    /// <summary>
    /// A random case for property tests: mostly small token counts with some large (0 to 4096), 1 to 256 experts,
    /// top-k from 1 to E (sometimes E, sometimes over a subset of experts so that others stay empty), dropless or
    /// drop-and-pad with a capacity under or over the busiest expert, hidden 1 to 8, fp32/fp64/fp16/bf16.
    /// </summary>
    public static RoutingCase Random(int seed)
    {
        var random = new Random(seed);
        int size = random.Next(100);
        long tokens = size < 3 ? 0 : size < 80 ? random.Next(1, 65) : size < 95 ? random.Next(65, 513) : random.Next(513, 4097);
        int experts = random.Next(100) < 70 ? random.Next(1, 17) : random.Next(17, 257);
        int mode = random.Next(100);
        int k = mode < 10 ? experts : mode < 30 ? random.Next(1, experts + 1) : random.Next(1, Math.Min(experts, 8) + 1);
        // A subset of the experts receives every token, so the others stay empty (at least k are needed).
        int reachable = random.Next(100) < 20 ? random.Next(k, experts + 1) : experts;
        long hidden = random.Next(1, 9);
        // Half precision only where each token has few copies (drop-and-pad pads a token into up to E rows), so the
        // non-fused backward's sums in that dtype stay exact.
        var dtype = experts <= 8 && random.Next(4) == 0 ? ScalarType.BFloat16
            : experts <= 64 && random.Next(5) == 0 ? ScalarType.Float16
            : random.Next(6) == 0 ? ScalarType.Float64 : ScalarType.Float32;

        var routed = RouteTopK(random, tokens, experts, k, reachable);

        long? numOutTokens = null;
        bool dropAndPad = random.Next(100) < 40;
        if (dropAndPad && random.Next(10) != 0)   // else drop-and-pad without numOutTokens: dropless
        {
            long busiest = tokens == 0 ? 0 : Enumerable.Range(0, experts).Max(e => Count(routed, tokens, experts, e));
            long capacity = random.Next(0, (int)busiest * 2 + 2);   // under and over the busiest expert
            numOutTokens = capacity * experts + random.Next(experts);   // often not divisible by E
        }
        string description = $"T={tokens} E={experts} k={k} reachable={reachable} H={hidden} {dtype}"
            + (dropAndPad ? $" dropAndPad numOutTokens={numOutTokens?.ToString() ?? "null"}" : "");
        return new(description, tokens, experts, hidden, dtype, routed, Quarters(random, tokens * hidden),
                   Probs(random, routed, unroutedProbs: random.Next(2) == 0), numOutTokens, dropAndPad, random);
    }

    public Tensor Tokens(Device device) => Tensor(X, [TokenCount, Hidden], Dtype, device);
    public Tensor RoutingMap(Device device) => torch.tensor(Routed, [TokenCount, Experts]).to(device);
    public Tensor Probs(Device device) => Tensor(P, [TokenCount, Experts], ScalarType.Float32, device);

    /// <summary>A host array as a tensor of <paramref name="dtype"/> (values exact in fp32, so one rounding at most).</summary>
    public static Tensor Tensor(double[] values, long[] shape, ScalarType dtype, Device device)
        => torch.tensor(values, shape).to(dtype).to(device);

    public override string ToString() => Description;

    private (long[] RowToken, int[] RowExpert) ExpectedLayout()
    {
        var tokenOf = new List<long>();
        var expertOf = new List<int>();
        long? capacity = DropAndPad && NumOutTokens is long n ? Math.Min(n / Experts, TokenCount) : null;
        for (int e = 0; e < Experts; e++)
        {
            var routedTokens = Enumerable.Range(0, (int)TokenCount).Where(t => Routed[t * Experts + e]).Select(t => (long)t);
            var list = capacity is long c
                ? routedTokens.Concat(Enumerable.Range(0, (int)TokenCount).Where(t => !Routed[t * Experts + e]).Select(t => (long)t)).Take((int)c)
                : routedTokens;
            foreach (long t in list)
            {
                tokenOf.Add(t);
                expertOf.Add(e);
            }
        }
        return (tokenOf.ToArray(), expertOf.ToArray());
    }

    /// <summary>Each token to <paramref name="k"/> distinct experts among the first <paramref name="reachable"/>
    /// (a partial Fisher-Yates shuffle per token).</summary>
    private static bool[] RouteTopK(Random random, long tokens, int experts, int k, int reachable)
    {
        var routed = new bool[tokens * experts];
        var choice = Enumerable.Range(0, reachable).ToArray();
        for (long t = 0; t < tokens; t++)
            for (int j = 0; j < k; j++)
            {
                int pick = random.Next(j, reachable);
                (choice[j], choice[pick]) = (choice[pick], choice[j]);
                routed[t * experts + choice[j]] = true;
            }
        return routed;
    }

    private static long Count(bool[] routed, long tokens, int experts, int e)
    {
        long count = 0;
        for (long t = 0; t < tokens; t++)
            if (routed[t * experts + e]) count++;
        return count;
    }

    /// <summary>Multiples of 1/4 in [−2, 2].</summary>
    private static double[] Quarters(Random random, long count)
    {
        var values = new double[count];
        for (long i = 0; i < count; i++) values[i] = random.Next(-8, 9) / 4.0;
        return values;
    }

    /// <summary>Routed probs in {1/64, …, 8/64}; unrouted ones 0, or 1/128 to expose a gradient leaking there.</summary>
    private static double[] Probs(Random random, bool[] routed, bool unroutedProbs)
        => routed.Select(r => r ? random.Next(1, 9) / 64.0 : unroutedProbs ? 1 / 128.0 : 0.0).ToArray();
}
