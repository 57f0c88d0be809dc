namespace MoeOpGen.Engines;

/// <summary>Which implementation of an operator runs.</summary>
public enum Engine
{
    /// <summary>The fused kernel of the tensor's device: CUDA for CUDA tensors, the fused CPU kernel otherwise.</summary>
    Auto = 0,

    /// <summary>The TorchSharp composite: the maths as tensor operations, in fp32 (fp64 for fp64 tensors). The reference engine of the tests.</summary>
    Composite = 1,
}
