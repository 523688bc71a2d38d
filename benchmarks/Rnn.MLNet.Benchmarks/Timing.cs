using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace Rnn.MLNet.Benchmarks;

/// <summary>The protocol's timing rule: repeat for at least <c>seconds</c> and at least <c>minRuns</c> times, as the PyTorch peer does.</summary>
internal static class Timing
{
    /// <summary>Runs <paramref name="body"/> repeatedly and returns each run's duration in seconds, sorted.</summary>
    public static List<double> Sorted(Action body, double seconds, int minRuns) => Sorted(null, body, seconds, minRuns);

    /// <summary>
    /// As <see cref="Sorted(Action, double, int)"/>, with <paramref name="prepare"/> run before each timed run and not
    /// timed (e.g. drawing a new input).
    /// </summary>
    public static List<double> Sorted(Action? prepare, Action body, double seconds, int minRuns)
    {
        var times = new List<double>();
        var end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end || times.Count < minRuns)
        {
            prepare?.Invoke();
            long t0 = Stopwatch.GetTimestamp();
            body();
            times.Add((Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency);
        }
        times.Sort();
        return times;
    }

    /// <summary>The median of sorted times.</summary>
    public static double Median(List<double> sorted) => sorted[sorted.Count / 2];

    /// <summary>The 99th percentile of sorted times.</summary>
    public static double P99(List<double> sorted) => sorted[(int)(sorted.Count * 0.99)];
}
