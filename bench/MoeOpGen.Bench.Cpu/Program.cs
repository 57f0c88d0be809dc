using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/MoeOpGen.Bench.Cpu -- --filter '*'
// (any BenchmarkDotNet command-line option works, e.g. --filter '*Forward*' or --job short).
var config = DefaultConfig.Instance.WithOptions(ConfigOptions.JoinSummary);
BenchmarkSwitcher.FromAssembly(typeof(MoeOpGen.Bench.Cpu.GatedBenchmarks).Assembly).Run(args, config);
