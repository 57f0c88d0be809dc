using System;

namespace MoeOpGen.Engines;

/// <summary>
/// FP8 E4M3FN (4 exponent bits, bias 7, 3 mantissa bits, max finite 448, one NaN code per sign), the format of
/// the FP8 input store; the same rules as the CUDA preamble's <c>mog_fp8_encode</c>/<c>mog_fp8_decode</c>.
/// </summary>
/// <remarks>
/// Rounds to nearest even and SATURATES at ±448 (infinities too), where the reference's plain cast turns
/// |x| ≥ 464 into NaN. A NaN code stands for NaN, or, when the call clamps, for an input the clamp changed
/// (its sign tells +c or −c), so backward still knows that its gradient is zero.
/// </remarks>
public static class Fp8E4M3
{
    /// <summary>TorchSharp 0.107 has no member for it: c10's code of float8_e4m3fn.</summary>
    public const TorchSharp.torch.ScalarType ScalarType = (TorchSharp.torch.ScalarType)24;

    /// <summary>The positive NaN code (0x7F); 0xFF is the negative one.</summary>
    public const byte NaN = 0x7f;

    private static readonly float[] DecodeTable = BuildTable();

    /// <summary>Encodes with round-to-nearest-even, saturating at ±448.</summary>
    public static byte Encode(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint sign = (bits >> 24) & 0x80u;
        float a = MathF.Abs(value);
        if (float.IsNaN(a)) return (byte)(sign | 0x7fu);
        if (a >= 448f) return (byte)(sign | 0x7eu);
        if (a < 0.015625f) return (byte)(sign | (uint)MathF.Round(a * 512f, MidpointRounding.ToEven)); // subnormals m · 2⁻⁹
        uint u = BitConverter.SingleToUInt32Bits(a);
        u += 0x7ffffu + ((u >> 20) & 1u);                                     // keep 3 mantissa bits, ties to even
        uint e = (u >> 23) - 120u, m = (u >> 20) & 7u;
        if (e > 15u || (e == 15u && m == 7u)) return (byte)(sign | 0x7eu);
        return (byte)(sign | (e << 3) | m);
    }

    /// <summary>The value of a code (NaN for the NaN codes).</summary>
    public static float Decode(byte code) => DecodeTable[code];

    /// <summary>Whether the code is one of the two NaN codes.</summary>
    public static bool IsNaN(byte code) => (code & 0x7f) == 0x7f;

    private static float[] BuildTable()
    {
        var table = new float[256];
        for (int q = 0; q < 256; q++)
        {
            int e = (q >> 3) & 15, m = q & 7;
            float v = e == 0 ? m / 512f : BitConverter.UInt32BitsToSingle((uint)((e + 120) << 23 | m << 20));
            if (e == 15 && m == 7) v = float.NaN;
            table[q] = (q & 0x80) != 0 ? -v : v;
        }
        return table;
    }
}
