using System;
using System.Threading;
using Rnn.MLNet.Math;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>
/// The worker pool runs every part of a job exactly once, whichever thread takes it: a part handed to a worker that has not
/// woken up by the time the caller finishes its own part is run by the caller instead.
/// </summary>
[Collection(nameof(AllocationCounting))] // alone: the pool is shared, and other classes' jobs would run inline meanwhile
public class WorkerPoolTests
{
    private sealed class CountingJob : ParallelJob
    {
        public readonly int[] Runs = new int[4];
        public int CallerThread, OnCaller;
        public int DelayPart = -1;

        public override void Execute(int part, int parts)
        {
            if (part == DelayPart) Thread.SpinWait(2000); // a slow part, so a worker's part is sometimes still unclaimed
            Interlocked.Increment(ref Runs[part]);
            if (Environment.CurrentManagedThreadId == CallerThread) Interlocked.Increment(ref OnCaller);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void EveryPartRunsExactlyOnceWhoeverTakesIt(int parts)
    {
        var job = new CountingJob { CallerThread = Environment.CurrentManagedThreadId };
        const int runs = 5000;
        for (int r = 0; r < runs; r++)
        {
            job.DelayPart = r % 3 == 0 ? 0 : -1; // a slow caller part lets workers win; a fast one lets the caller take theirs
            WorkerPool.Run(job, parts);
            for (int p = 0; p < parts; p++)
                Assert.True(job.Runs[p] == r + 1, $"run {r}: part {p} ran {job.Runs[p] - r} times");
        }
        // part 0 always runs on the caller; the others ran on the caller only when taken from a worker that had not started
        Assert.InRange(job.OnCaller, runs, runs * parts);
    }

    private sealed class ThrowingJob : ParallelJob
    {
        public int ThrowOn;
        public override void Execute(int part, int parts)
        {
            if (part == ThrowOn) throw new InvalidOperationException("part " + part);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void AFailingPartReachesTheCallerAndThePoolStaysUsable(int throwOn)
    {
        var failing = new ThrowingJob { ThrowOn = throwOn };
        var e = Record.Exception(() => WorkerPool.Run(failing, 2));
        Assert.NotNull(e);
        Assert.Contains("part " + throwOn, e is AggregateException a ? a.InnerException!.Message : e.Message);
        var job = new CountingJob { CallerThread = Environment.CurrentManagedThreadId };
        WorkerPool.Run(job, 2);
        Assert.Equal(new[] { 1, 1, 0, 0 }, job.Runs);
    }
}
