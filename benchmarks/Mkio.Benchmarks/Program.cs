using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Mkio.Benchmarks -- --filter '*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Mkio.Benchmarks.ExpressionBenchmarks).Assembly)
    .Run(args, DefaultConfig.Instance.WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(64)));
