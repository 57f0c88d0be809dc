using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// The fused CPU kernel against the TorchSharp composite (docs/benchmarks.md):
//   dotnet run -c Release --project bench/MoeOpGen.Bench.Cpu -- --filter '*GatedBenchmarks*'
// where the time goes (the kernel's loops alone; fresh vs mapped memory, one torch op):
//   dotnet run -c Release --project bench/MoeOpGen.Bench.Cpu -- --filter '*KernelLoop*' '*ElementwiseCost*'
// Any BenchmarkDotNet option works (--list flat, --exporters json, ...).
var config = DefaultConfig.Instance.WithOptions(ConfigOptions.JoinSummary);
BenchmarkSwitcher.FromAssembly(typeof(MoeOpGen.Bench.Cpu.GatedBenchmarks).Assembly).Run(args, config);
