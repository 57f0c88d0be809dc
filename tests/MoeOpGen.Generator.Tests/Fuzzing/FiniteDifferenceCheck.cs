using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;

namespace MoeOpGen.Generator.Tests.Fuzzing;

/// <summary>
/// Checks a fuzzed operator's generated fp64 maths at random points: <c>ForwardF64</c> against the fuzzer's own
/// evaluation of the body, and <c>BackwardF64</c> against Richardson-extrapolated central differences of
/// <c>ForwardF64</c> (error O(h⁴)). A point is used only where the whole stencil lies on one smooth piece: every
/// branch decision (Abs, Min, Max, Clamp, ?:) is the same at each stencil point as at the centre, and every value
/// is finite.
/// </summary>
internal sealed class FiniteDifferenceCheck(FuzzOperator op, MethodInfo forwardF64, MethodInfo backwardF64)
{
    /// <summary>Upstream gradient: not 1, so a backward that forgot to multiply by it fails.</summary>
    private const double Grad = 0.7;

    /// <summary>DESIGN.md: generated double backward vs fp64 central differences, rel 1e-6 away from kinks.</summary>
    private const double RelativeTolerance = 1e-6;

    /// <summary>Rounding in a difference quotient is ~1e-16·|f|/h; this bound is far above it and far below any real error.</summary>
    private const double RoundingTolerance = 1e-9;

    /// <summary>ForwardF64 and the fuzzer evaluate the same operations in double; only folding order may differ.</summary>
    private const double ForwardTolerance = 1e-9;

    private static readonly double[] Steps = [1e-3, 1e-4];

    private const int PointsWanted = 3;
    private const int Attempts = 10;

    public int CheckedPoints { get; private set; }

    /// <summary>Runs the check; returns null when it passes, else what went wrong (the caller adds the source).</summary>
    public string? Run(Random rng)
    {
        int inputs = op.InputNames.Count;
        for (int attempt = 0; attempt < Attempts && CheckedPoints < PointsWanted; attempt++)
        {
            var x = Enumerable.Range(0, inputs).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
            // The first point uses the scalars' defaults; later ones other values, so a default baked in would show.
            var scalars = attempt == 0 ? op.ScalarDefaults.ToArray() : op.Scalars.Select(_ => 0.5 + rng.NextDouble() * 1.5).ToArray();

            double expected = op.Evaluate(x, scalars, out var branches);
            if (!IsUsable(expected)) continue;
            double actual = Forward(x, scalars);
            if (!(Math.Abs(actual - expected) <= ForwardTolerance * Math.Max(1, Math.Abs(expected))))
                return $"ForwardF64{Point(x, scalars)} = {actual:R}, the body evaluates to {expected:R}";

            var analytic = Backward(x, scalars);
            bool smooth = true;
            var failures = new List<string>();
            for (int i = 0; i < inputs && smooth; i++)
            {
                string? failure = null;
                bool matched = false;
                foreach (double h in Steps)
                {
                    if (!OnOneSmoothPiece(x, scalars, i, h, branches)) { smooth = false; break; }
                    double fd = Grad * Richardson(x, scalars, i, h);
                    double error = Math.Abs(fd - analytic[i]);
                    double bound = RelativeTolerance * Math.Max(Math.Abs(fd), Math.Abs(analytic[i])) + RoundingTolerance * Math.Max(1, Math.Abs(expected));
                    if (error <= bound) { matched = true; break; }
                    failure ??= $"d/d{op.InputNames[i]}{Point(x, scalars)}: BackwardF64 gives {analytic[i]:R}, finite differences {fd:R} (h {h}, error {error:E2}, bound {bound:E2})";
                }
                if (smooth && !matched) failures.Add(failure!);
            }
            if (!smooth) continue;
            if (failures.Count > 0) return string.Join("\n", failures);
            CheckedPoints++;
        }
        return null;
    }

    private static bool IsUsable(double value) => double.IsFinite(value) && Math.Abs(value) < 1e12;

    /// <summary>Whether x ± h and x ± h/2 along input <paramref name="i"/> take the centre's branches and stay finite.</summary>
    private bool OnOneSmoothPiece(double[] x, double[] scalars, int i, double h, List<bool> centre)
    {
        foreach (double offset in new[] { -h, -h / 2, h / 2, h })
        {
            var shifted = (double[])x.Clone();
            shifted[i] += offset;
            double value = op.Evaluate(shifted, scalars, out var branches);
            if (!IsUsable(value) || !branches.SequenceEqual(centre)) return false;
        }
        return true;
    }

    /// <summary>(4·D(h/2) − D(h)) / 3 with the central quotient D(h) = (f(x+h) − f(x−h)) / 2h.</summary>
    private double Richardson(double[] x, double[] scalars, int i, double h)
    {
        double D(double step)
        {
            var plus = (double[])x.Clone();
            var minus = (double[])x.Clone();
            plus[i] += step;
            minus[i] -= step;
            return (Forward(plus, scalars) - Forward(minus, scalars)) / (2 * step);
        }
        return (4 * D(h / 2) - D(h)) / 3;
    }

    private double Forward(double[] x, double[] scalars)
        => (double)forwardF64.Invoke(null, [.. x.Cast<object>(), .. scalars.Cast<object>()])!;

    private double[] Backward(double[] x, double[] scalars)
    {
        object[] args = [.. x.Cast<object>(), Grad, .. scalars.Cast<object>(), .. x.Select(_ => (object)0.0)];
        backwardF64.Invoke(null, args);
        return args.Skip(args.Length - x.Length).Select(a => (double)a).ToArray();
    }

    private string Point(double[] x, double[] scalars)
        => "(" + string.Join(", ", op.InputNames.Zip(x, (n, v) => $"{n}={v.ToString("R", CultureInfo.InvariantCulture)}")
            .Concat(op.Scalars.Zip(scalars, (s, v) => $"{s.Name}={v.ToString("R", CultureInfo.InvariantCulture)}"))) + ")";
}
