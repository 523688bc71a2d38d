using Rnn.MLNet.Math;

namespace Rnn.MLNet.Cells;

/// <summary>Per-row work of one time step: rows [b0, b1) of the batch at step k (rows are independent of each other).</summary>
internal interface IStepRows
{
    /// <summary>Forward, after the step product.</summary>
    void ForwardRows(int step, int b0, int b1);

    /// <summary>Backward, before the step product.</summary>
    void BackwardRows(int step, int b0, int b1);
}

/// <summary>
/// Runs the per-row work of a step on the calling thread, or split by batch rows between threads (<see cref="Parallelism.MaxThreads"/>)
/// when the step holds enough state values to pay for the hand-off. Each row is computed the same way whoever runs it,
/// so results do not depend on the thread count. The step products before and after stay whole.
/// </summary>
internal sealed class StepRows : ParallelJob
{
    /// <summary>Below this many state values per step the rows run on the calling thread (a hand-off costs more).</summary>
    internal const int RowGrain = 2048;

    private readonly IStepRows _work;
    private bool _forward;
    private int _step, _batch;

    public StepRows(IStepRows work) => _work = work;

    /// <summary>Runs rows [0, <paramref name="batch"/>) of step <paramref name="step"/>; <paramref name="hidden"/> is the state width.</summary>
    public void Run(bool forward, int step, int batch, int hidden)
    {
        int parts = batch >= 2 && batch * hidden >= RowGrain ? System.Math.Min(Parallelism.MaxThreads, batch) : 1;
        if (parts <= 1)
        {
            if (forward) _work.ForwardRows(step, 0, batch);
            else _work.BackwardRows(step, 0, batch);
            return;
        }
        _forward = forward; _step = step; _batch = batch;
        WorkerPool.Run(this, parts);
    }

    public override void Execute(int part, int parts)
    {
        var (b0, b1) = Share(_batch, part, parts);
        if (_forward) _work.ForwardRows(_step, b0, b1);
        else _work.BackwardRows(_step, b0, b1);
    }
}
