// Fits the two polynomials of the vectorised fp32 erf (runtime/Engines/VectorMath.cs) and reports their error.
//   dotnet run scripts/fit-erf-coefficients.cs
// Why a script: .NET has no erf, no served package fits minimax polynomials, and the coefficients in VectorMath
// must be reproducible. Method: Lawson's iteratively reweighted least squares on a dense grid converges to the
// weighted minimax polynomial; each least-squares step is a Householder QR solve in double. The coefficients are
// then rounded to float and the polynomial is evaluated in float with fused multiply-adds, as VectorMath does, and
// compared with OpMath.Erf(double) on every float of the interval.
//   |x| < 0.875:      erf(x) = x + x·P(x²)          P of degree 5, fitted to erf(x)/x − 1 (relative error)
//   0.875 ≤ |x| < 4:  erf(x) = 1 − exp(−Q(|x|))    Q of degree 8, fitted to −ln erfc(x) with weight erfc/erf
#:project ../runtime/MoeOpGen.Runtime.csproj
using System;
using System.Linq;
using MoeOpGen;

const double Split = 0.875, Top = 4.0;

double[] p = Fit(5, 0, Split * Split, s => { double x = Math.Sqrt(s); return s == 0 ? 2 / Math.Sqrt(Math.PI) - 1 : OpMath.Erf(x) / x - 1; }, _ => 1);
double[] q = Fit(8, Split, Top, a => -Math.Log(Erfc(a)), a => Erfc(a) / OpMath.Erf(a));
float[] pf = p.Select(c => (float)c).ToArray(), qf = q.Select(c => (float)c).ToArray();
Console.WriteLine("P (ascending): " + string.Join(", ", pf.Select(Literal)));
Console.WriteLine("Q (ascending): " + string.Join(", ", qf.Select(Literal)));

// Every float in [0, Top): the error of the float evaluation in ulps of the correctly rounded result.
double worst = 0; float worstAt = 0;
for (float x = float.Epsilon; x < Top; x = MathF.BitIncrement(x))
{
    float y = x < Split ? MathF.FusedMultiplyAdd(x, Horner(pf, x * x), x) : 1f - MathF.Exp(-Horner(qf, x));
    double exact = OpMath.Erf((double)x);
    double ulp = Math.Abs(y - exact) / Ulp((float)exact);
    if (ulp > worst) { worst = ulp; worstAt = x; }
}
Console.WriteLine($"max error {worst:F3} ulp at x = {worstAt:R} (float evaluation, MathF.Exp for the exponential)");

static float Horner(float[] c, float t)
{
    float r = c[^1];
    for (int k = c.Length - 2; k >= 0; k--) r = MathF.FusedMultiplyAdd(r, t, c[k]);
    return r;
}

static double Ulp(float v) => MathF.BitIncrement(MathF.Abs(v)) - MathF.Abs(v);

static double Erfc(double a) => a < 3 ? 1 - OpMath.Erf(a) : ErfcTail(a);

// erfc(a) for a ≥ 3 by its asymptotic-free continued fraction, as OpMath does (1 − erf would keep ~8 digits).
static double ErfcTail(double a)
{
    double f = a, c = a, d = 0;
    for (int k = 1; k < 500; k++)
    {
        d = 1 / (a + k / 2.0 * d);
        c = a + k / 2.0 / c;
        f *= c * d;
    }
    return Math.Exp(-a * a) / Math.Sqrt(Math.PI) / f;
}

static string Literal(float c) => c.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f";

// Weighted minimax polynomial of the given degree on [lo, hi] by Lawson's algorithm.
static double[] Fit(int degree, double lo, double hi, Func<double, double> f, Func<double, double> weight)
{
    const int N = 4000;
    var t = Enumerable.Range(0, N).Select(i => lo + (hi - lo) * (1 - Math.Cos(Math.PI * i / (N - 1))) / 2).ToArray();
    var y = t.Select(f).ToArray();
    var w = t.Select(weight).ToArray();
    var u = Enumerable.Repeat(1.0 / N, N).ToArray();
    double[] c = new double[degree + 1];
    for (int iteration = 0; iteration < 300; iteration++)
    {
        var a = new double[N, degree + 1];
        var b = new double[N];
        for (int i = 0; i < N; i++)
        {
            double s = Math.Sqrt(u[i]) * w[i], pw = 1;
            for (int k = 0; k <= degree; k++) { a[i, k] = s * pw; pw *= t[i]; }
            b[i] = s * y[i];
        }
        c = LeastSquares(a, b);
        double sum = 0;
        for (int i = 0; i < N; i++)
        {
            double pv = 0;
            for (int k = degree; k >= 0; k--) pv = pv * t[i] + c[k];
            u[i] *= Math.Abs(w[i] * (pv - y[i])) + 1e-300;
            sum += u[i];
        }
        for (int i = 0; i < N; i++) u[i] /= sum;
    }
    return c;
}

// min ‖A c − b‖₂ by Householder QR (columns scaled to unit norm first, for conditioning).
static double[] LeastSquares(double[,] a, double[] b)
{
    int m = a.GetLength(0), n = a.GetLength(1);
    var scale = new double[n];
    for (int k = 0; k < n; k++)
    {
        double s = 0;
        for (int i = 0; i < m; i++) s += a[i, k] * a[i, k];
        scale[k] = Math.Sqrt(s);
        for (int i = 0; i < m; i++) a[i, k] /= scale[k];
    }
    for (int k = 0; k < n; k++)
    {
        double norm = 0;
        for (int i = k; i < m; i++) norm += a[i, k] * a[i, k];
        norm = Math.Sqrt(norm);
        double alpha = a[k, k] > 0 ? -norm : norm;
        var v = new double[m];
        v[k] = a[k, k] - alpha;
        for (int i = k + 1; i < m; i++) v[i] = a[i, k];
        double vv = 0;
        for (int i = k; i < m; i++) vv += v[i] * v[i];
        if (vv == 0) continue;
        for (int j = k; j < n; j++)
        {
            double dot = 0;
            for (int i = k; i < m; i++) dot += v[i] * a[i, j];
            for (int i = k; i < m; i++) a[i, j] -= 2 * dot / vv * v[i];
        }
        double db = 0;
        for (int i = k; i < m; i++) db += v[i] * b[i];
        for (int i = k; i < m; i++) b[i] -= 2 * db / vv * v[i];
    }
    var c = new double[n];
    for (int k = n - 1; k >= 0; k--)
    {
        double s = b[k];
        for (int j = k + 1; j < n; j++) s -= a[k, j] * c[j];
        c[k] = s / a[k, k];
    }
    for (int k = 0; k < n; k++) c[k] /= scale[k];
    return c;
}
