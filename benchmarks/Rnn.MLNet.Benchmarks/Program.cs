using BenchmarkDotNet.Running;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// Kernel micro-benchmarks: <c>dotnet run -c Release --project benchmarks/Rnn.MLNet.Benchmarks -- --filter '*'</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
