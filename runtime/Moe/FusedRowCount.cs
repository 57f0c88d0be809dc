using static TorchSharp.torch;

namespace MoeOpGen.Moe;

/// <summary>
/// A row count of the fused path that may still be in device memory: the dropless routed count, which the CUDA
/// row-map build leaves as the last entry of its scan, or a count the host already knows (drop-and-pad's
/// <c>E·C</c>, the CPU builder's count, a caller's <c>numOutTokens</c>).
/// </summary>
/// <remarks>
/// Reading a count from the device blocks the host until every kernel queued before the read has run, and the GPU
/// then idles while the host prepares the next launch. Carrying the count unread lets the caller queue the work that
/// does not depend on it (the permute kernel itself, when its output size is known) and read it once, at the end.
/// A pending count holds the build's scratch tensor, so it must be read while the dispose scope that owns that
/// tensor is alive (<see cref="TokenPermutation.Permute"/>'s).
/// </remarks>
internal sealed class FusedRowCount
{
    private readonly Tensor? _scratch;   // int64 scratch of the row-map build; its last entry is the count
    private long? _value;

    private FusedRowCount(Tensor? scratch, long? value) => (_scratch, _value) = (scratch, value);

    /// <summary>A count the host already knows.</summary>
    public static FusedRowCount Known(long rows) => new(null, rows);

    /// <summary>The count in the last entry of <paramref name="scratch"/>, to be read later.</summary>
    public static FusedRowCount InLastEntryOf(Tensor scratch) => new(scratch, null);

    /// <summary>Whether <see cref="Read"/> returns without a host synchronisation.</summary>
    public bool IsKnown => _value is not null;

    /// <summary>The count. The first read of a pending count copies it to the host (a synchronisation); later reads
    /// return that value.</summary>
    public long Read()
    {
        if (_value is long value)
            return value;
        using var last = _scratch!.narrow(0, _scratch.shape[0] - 1, 1);
        _value = last.item<long>();
        return _value.Value;
    }

    public override string ToString() => _value?.ToString() ?? "(on the device, not read yet)";
}
