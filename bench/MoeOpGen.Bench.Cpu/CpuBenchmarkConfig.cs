using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace MoeOpGen.Bench.Cpu;

/// <summary>
/// A short job (one launch, 3 warm-up and 5 measured iterations), so the whole suite runs in a few minutes on a
/// shared 2-core machine, in-process: TorchSharp's native library is loaded once (its libstdc++ patch is applied
/// to this project's output, not to a separately generated BenchmarkDotNet project).
/// Results are grouped by category so that each Ratio compares the two engines on the same work.
/// </summary>
public sealed class CpuBenchmarkConfig : ManualConfig
{
    public CpuBenchmarkConfig()
    {
        AddJob(Job.ShortRun
            .WithIterationCount(5)
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithId("ShortInProcess"));
        AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams);
        AddColumn(CategoriesColumn.Default);
        HideColumns(Column.Job, Column.Toolchain, Column.LaunchCount, Column.WarmupCount, Column.IterationCount);
        WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(30));   // QuickGeGluWeightsBiasClamp unabridged
    }
}
