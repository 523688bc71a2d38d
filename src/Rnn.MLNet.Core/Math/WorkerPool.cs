using System;
using System.Threading;

namespace Rnn.MLNet.Math;

/// <summary>A unit of work split into parts; part 0 runs on the calling thread.</summary>
internal abstract class ParallelJob
{
    public abstract void Execute(int part, int parts);

    /// <summary>
    /// Part <paramref name="part"/> of <paramref name="parts"/> of [0, <paramref name="count"/>), cut on multiples of
    /// <paramref name="unit"/> (whole micro-panels, cache lines) so parts differ by at most one unit; the last part ends at count.
    /// </summary>
    public static (int Start, int End) Share(int count, int part, int parts, int unit = 1)
    {
        long units = ((long)count + unit - 1) / unit;
        int start = (int)System.Math.Min(count, units * part / parts * unit);
        int end = (int)System.Math.Min(count, units * (part + 1) / parts * unit);
        return (start, end);
    }
}

/// <summary>
/// A small fixed pool of worker threads for the matrix kernels: no allocation per call (jobs are reused objects), workers
/// spin briefly before sleeping so a steady stream of products does not pay a wake-up each time. Only one caller uses the
/// pool at a time; a concurrent caller simply runs its job on its own thread.
/// </summary>
/// <remarks>
/// A part handed to a worker is claimed by whoever starts it first: when the caller has finished its own part and a worker
/// has not yet woken up (a sleeping thread can take a millisecond to be scheduled on a busy or virtualised machine), the
/// caller runs that part itself instead of waiting. Which thread runs a part never changes its result.
/// </remarks>
internal static class WorkerPool
{
    private static Worker[] s_workers = Array.Empty<Worker>();
    private static int s_busy;
    private static int s_pending;
    private static Exception? s_error;
    private static readonly object s_grow = new();

    /// <summary>
    /// Runs <paramref name="job"/> as exactly <paramref name="parts"/> parts (callers size it from
    /// <see cref="Parallelism.MaxThreads"/> once, so a change of that setting from another thread mid-call cannot change how
    /// a job is cut).
    /// </summary>
    public static void Run(ParallelJob job, int parts)
    {
        if (parts <= 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int p = 0; p < System.Math.Max(parts, 1); p++) job.Execute(p, System.Math.Max(parts, 1));
            return;
        }
        try
        {
            EnsureWorkers(parts - 1);
            s_error = null;
            Volatile.Write(ref s_pending, parts - 1);
            for (int w = 1; w < parts; w++) s_workers[w - 1].Start(job, w, parts);
            Exception? own = null;
            try { job.Execute(0, parts); }
            catch (Exception e) { own = e; }
            // parts no worker has started yet run here (a worker that wakes later finds them taken)
            for (int w = 1; w < parts; w++)
                if (s_workers[w - 1].TryTake())
                {
                    try { if (own is null) job.Execute(w, parts); }
                    catch (Exception e) { own = e; }
                    finally { Interlocked.Decrement(ref s_pending); }
                }
            var spin = new SpinWait();
            while (Volatile.Read(ref s_pending) != 0) spin.SpinOnce(sleep1Threshold: -1); // no worker touches the job after this
            if (own is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(own);
            if (s_error is { } failure) throw new AggregateException("A matrix kernel worker failed.", failure);
        }
        finally { Volatile.Write(ref s_busy, 0); }
    }

    /// <summary>
    /// Bytes allocated on the managed heap by the worker threads so far, as of the end of their last job (a diagnostic
    /// for tests: <see cref="GC.GetAllocatedBytesForCurrentThread"/> sees only the calling thread).
    /// </summary>
    internal static long WorkerAllocatedBytes
    {
        get
        {
            long total = 0;
            foreach (var w in s_workers) total += Volatile.Read(ref w.AllocatedBytes);
            return total;
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        lock (s_grow)
        {
            if (s_workers.Length >= count) return;
            var grown = new Worker[count];
            Array.Copy(s_workers, grown, s_workers.Length);
            for (int i = s_workers.Length; i < count; i++) grown[i] = new Worker(i + 1);
            s_workers = grown;
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "Workers live as long as the process.")]
    private sealed class Worker
    {
        private readonly ManualResetEventSlim _go = new(false, spinCount: 2000);
        private ParallelJob? _job;
        private int _part, _parts;
        private int _taken = 1; // 0 while the part handed over by Start waits to be started, 1 once a thread has taken it
        public long AllocatedBytes;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = "Rnn.MLNet worker " + index };
            thread.Start();
        }

        public void Start(ParallelJob job, int part, int parts)
        {
            _job = job; _part = part; _parts = parts;
            Volatile.Write(ref _taken, 0); // publishes the fields above to whoever takes the part
            _go.Set();
        }

        /// <summary>Takes the pending part for the calling thread; false when a thread has already taken it.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _taken, 1, 0) == 0;

        private void Loop()
        {
            while (true)
            {
                _go.Wait();
                _go.Reset(); // before taking: a Start after this point sets the event again, so no part is missed
                if (!TryTake()) continue; // the caller ran it (this wake-up came late)
                try { _job!.Execute(_part, _parts); }
                catch (Exception e) { s_error ??= e; }
                finally
                {
                    Volatile.Write(ref AllocatedBytes, GC.GetAllocatedBytesForCurrentThread());
                    Interlocked.Decrement(ref s_pending);
                }
            }
        }
    }
}
