using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Training;

/// <summary>One training example: a token or feature sequence and its target.</summary>
public sealed class LabeledSequence
{
    /// <summary>Token ids (embedding / one-hot input), or null.</summary>
    public int[]? Tokens { get; init; }

    /// <summary>Features [steps × F] (dense input), or null.</summary>
    public float[]? Features { get; init; }

    /// <summary>The character ids of every token (networks with character features), or null.</summary>
    public int[][]? Characters { get; init; }

    /// <summary>Class id (softmax cross-entropy, many-to-one), or per-step class ids via <see cref="StepClasses"/>.</summary>
    public int Class { get; init; }

    /// <summary>Per-step class ids (tagging), or null.</summary>
    public int[]? StepClasses { get; init; }

    /// <summary>Real-valued targets (BCE: [O] in [0, 1]; MSE: [O]), or null.</summary>
    public float[]? Values { get; init; }

    /// <summary>Feature ids of the sparse bag read by a network's wide input (<see cref="NetworkOptions.WideFeatures"/>), or null.</summary>
    public int[]? BagIds { get; init; }

    /// <summary>Values of <see cref="BagIds"/>, one per id.</summary>
    public float[]? BagValues { get; init; }

    /// <summary>Number of steps.</summary>
    public int Length(int featureSize) => Tokens?.Length ?? (Features is null ? 0 : Features.Length / System.Math.Max(1, featureSize));
}

/// <summary>What happened in one epoch.</summary>
public sealed record EpochReport(int Epoch, int Epochs, double TrainLoss, double? ValidationLoss, double? ValidationAccuracy,
    double TokensPerSecond, double LearningRate, TimeSpan Elapsed, long Steps)
{
    /// <summary>Text generated after this epoch (language models with a sampler), else null.</summary>
    public string? Sample { get; init; }

    /// <summary>The run's <see cref="FitOptions.ValidationScore"/> after this epoch (higher is better), else null.</summary>
    public double? ValidationScore { get; init; }

    /// <summary>One line for a console or a log.</summary>
    public override string ToString() =>
        FormattableString.Invariant($"epoch {Epoch}/{Epochs}: train loss {TrainLoss:F4}") +
        (ValidationLoss is double v ? FormattableString.Invariant($", valid loss {v:F4}") : "") +
        (ValidationAccuracy is double a ? FormattableString.Invariant($", valid acc {a:P2}") : "") +
        (ValidationScore is double sc ? FormattableString.Invariant($", valid score {sc:G4}") : "") +
        FormattableString.Invariant($", {TokensPerSecond:F0} tok/s, lr {LearningRate:g3}, {Elapsed.TotalSeconds:F1}s");
}

/// <summary>Settings of a training run.</summary>
public sealed class FitOptions
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; set; } = 10;
    /// <summary>Sequences per batch (streams: parallel columns).</summary>
    public int BatchSize { get; set; } = 32;
    /// <summary>Initial learning rate.</summary>
    public double LearningRate { get; set; } = 1e-3;
    /// <summary>Optimizer.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Adam;
    /// <summary>Weight decay (L2 for Adam/SGD, decoupled for AdamW).</summary>
    public double WeightDecay { get; set; }
    /// <summary>Global gradient-norm clip (≤ 0 disables).</summary>
    public double ClipNorm { get; set; } = 5;
    /// <summary>Stop after this many epochs without validation improvement (0 = never); the best weights are restored.</summary>
    public int EarlyStoppingPatience { get; set; }
    /// <summary>Learning-rate schedule applied after each epoch, or null.</summary>
    public ILearningRateSchedule? Schedule { get; set; }
    /// <summary>Seed for shuffling and dropout.</summary>
    public ulong Seed { get; set; } = 1;
    /// <summary>Called after each epoch.</summary>
    public Action<EpochReport>? Progress { get; set; }
    /// <summary>Called after each batch with (epoch, batch, batches, loss); for progress bars.</summary>
    public Action<int, int, int, double>? BatchProgress { get; set; }
    /// <summary>Stops training between batches; the weights stay those of the last completed step (or the best epoch).</summary>
    public CancellationToken Cancellation { get; set; }
    /// <summary>Stop after this much training time (null = no limit).</summary>
    public TimeSpan? TimeLimit { get; set; }
    /// <summary>Produces a text sample after each epoch for the report (language models), or null.</summary>
    public Func<string>? Sampler { get; set; }
    /// <summary>Truncated-BPTT length for streams.</summary>
    public int BpttSteps { get; set; } = 35;
    /// <summary>
    /// Rare-word dropout for token inputs (0 = off): in training batches a token seen n times in the training data becomes
    /// <see cref="UnknownTokenId"/> with probability α / (α + n), so the unknown token's embedding is learned from rare words
    /// (Kiperwasser &amp; Goldberg 2016). Its characters, if any, are kept. Its draws are not part of a checkpoint.
    /// </summary>
    public double WordDropoutAlpha { get; set; }
    /// <summary>The id rare-word dropout substitutes (−1 = none: word dropout off).</summary>
    public int UnknownTokenId { get; set; } = -1;
    /// <summary>
    /// Label smoothing ε of the encoder–decoder's training loss (<see cref="EncoderDecoderFitter"/>; 0 = off): the target
    /// distribution is (1 − ε)·onehot + ε/V, which keeps the decoder from growing over-confident on a small corpus. The
    /// validation loss stays the plain cross-entropy.
    /// </summary>
    public double LabelSmoothing { get; set; }
    /// <summary>
    /// A higher-is-better measure of the network on the validation data (for a translator: BLEU of its decoded outputs),
    /// called after each epoch's validation pass (<see cref="EncoderDecoderFitter"/>). When set, it rather than the
    /// validation loss chooses the kept epoch and drives early stopping; the learning-rate schedule still follows the loss.
    /// </summary>
    public Func<double>? ValidationScore { get; set; }
    /// <summary>
    /// File that keeps the run's state (<see cref="TrainingCheckpoint"/>), or null for none. When it exists, training resumes
    /// from it; it is rewritten every <see cref="CheckpointInterval"/>, after each epoch, when stopped and at the end.
    /// </summary>
    public string? CheckpointPath { get; set; }
    /// <summary>Training time between checkpoints (<see cref="TimeSpan.Zero"/>: after every batch).</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>
    /// Examples held in memory at once when training from an <see cref="ISequenceSource"/>: each buffer is shuffled and
    /// batched on its own. A buffer at least as large as the data set gives exactly the in-memory run.
    /// </summary>
    public int ShuffleBufferSize { get; set; } = 65_536;
    /// <summary>
    /// Most padded tokens (sequences × the longest one's steps) one forward and backward pass of <see cref="SequenceFitter.Fit(SequenceNetwork{float}, LossKind, IReadOnlyList{LabeledSequence}, IReadOnlyList{LabeledSequence}, FitOptions, float[], float)"/>
    /// may hold (0 = no limit). The activation and backpropagation buffers grow with the largest pass, so this bounds
    /// training memory whatever the longest sequences of the data: a batch above it runs in several passes over runs of its
    /// sequences ordered by length (<see cref="SequenceFitter.Passes"/>), whose gradients, each weighted by its share of the
    /// batch's loss, are summed before the batch's one optimizer step — the same update as one pass (only the dropout masks
    /// are drawn per pass). A sequence longer than the limit runs alone. Validation batches are split the same way (the same
    /// loss and accuracy).
    /// </summary>
    public int MaximumBatchTokens { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1; got {Epochs}.", nameof(Epochs));
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; got {BatchSize}.", nameof(BatchSize));
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"LearningRate must be a positive number; got {LearningRate}.", nameof(LearningRate));
        if (EarlyStoppingPatience < 0) throw new ArgumentException($"EarlyStoppingPatience must not be negative; got {EarlyStoppingPatience}.", nameof(EarlyStoppingPatience));
        if (BpttSteps < 1) throw new ArgumentException($"BpttSteps must be at least 1; got {BpttSteps}.", nameof(BpttSteps));
        if (!(WeightDecay >= 0)) throw new ArgumentException($"WeightDecay must be ≥ 0; got {WeightDecay}.", nameof(WeightDecay));
        if (!(WordDropoutAlpha >= 0) || double.IsInfinity(WordDropoutAlpha)) throw new ArgumentException($"WordDropoutAlpha must be a number ≥ 0; got {WordDropoutAlpha}.", nameof(WordDropoutAlpha));
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new ArgumentException($"LabelSmoothing must be in [0, 1); got {LabelSmoothing}.", nameof(LabelSmoothing));
        if (CheckpointInterval < TimeSpan.Zero) throw new ArgumentException($"CheckpointInterval must not be negative; got {CheckpointInterval}.", nameof(CheckpointInterval));
        if (MaximumBatchTokens < 0) throw new ArgumentException($"MaximumBatchTokens must be 0 (no limit) or positive; got {MaximumBatchTokens}.", nameof(MaximumBatchTokens));
        if (ShuffleBufferSize < 1) throw new ArgumentException($"ShuffleBufferSize must be at least 1; got {ShuffleBufferSize}.", nameof(ShuffleBufferSize));
        if (CheckpointPath is { Length: 0 }) throw new ArgumentException("CheckpointPath must be null or a file path; got an empty string.", nameof(CheckpointPath));
    }
}

/// <summary>The whole run: per-epoch reports and which epoch's weights were kept.</summary>
public sealed class FitResult
{
    /// <summary>Reports by epoch.</summary>
    public List<EpochReport> History { get; } = new();
    /// <summary>Epoch whose weights the network holds (the best validation epoch with early stopping or validation data, else the last).</summary>
    public int BestEpoch { get; set; }
    /// <summary>Validation loss of <see cref="BestEpoch"/>, if validated.</summary>
    public double? BestValidationLoss { get; set; }
    /// <summary>True when stopped by cancellation or the time limit.</summary>
    public bool Stopped { get; set; }
    /// <summary>The checkpoint the run continued from (file, epoch, step), or null for a fresh start.</summary>
    public string? ResumedFrom { get; set; }
    /// <summary>Checkpoint files found but unusable (truncated, corrupt), one line each; an older good one was used.</summary>
    public List<string> CheckpointProblems { get; } = new();
}

/// <summary>
/// Training loops over a <see cref="SequenceNetwork{T}"/>: shuffled, length-bucketed minibatches of independent sequences
/// (classification, regression, tagging) or truncated BPTT over token streams (language models), with validation, early
/// stopping, schedules, progress reports and cancellation.
/// </summary>
public static class SequenceFitter
{
    /// <summary>Trains on independent sequences held in memory. Returns the history; the network ends with the best weights.</summary>
    public static FitResult Fit(SequenceNetwork<float> network, LossKind loss, IReadOnlyList<LabeledSequence> train,
        IReadOnlyList<LabeledSequence>? validation, FitOptions options, float[]? classWeights = null, float positiveWeight = 1)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (train.Count == 0) throw new ArgumentException("The training set is empty.", nameof(train));
        return Fit(network, loss, new ListSequenceSource(train), train.Count, validation, options, classWeights, positiveWeight);
    }

    /// <summary>
    /// Trains on independent sequences read from <paramref name="train"/> once per epoch, holding only
    /// <see cref="FitOptions.ShuffleBufferSize"/> of them in memory at a time: each buffer is shuffled, length-bucketed and
    /// trained on as the in-memory path trains on the whole set (so a buffer covering the data set gives the same weights).
    /// </summary>
    public static FitResult Fit(SequenceNetwork<float> network, LossKind loss, ISequenceSource train,
        IReadOnlyList<LabeledSequence>? validation, FitOptions options, float[]? classWeights = null, float positiveWeight = 1)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Fit(network, loss, train, options.ShuffleBufferSize, validation, options, classWeights, positiveWeight);
    }

    private static FitResult Fit(SequenceNetwork<float> network, LossKind loss, ISequenceSource train, int bufferSize,
        IReadOnlyList<LabeledSequence>? validation, FitOptions options, float[]? classWeights, float positiveWeight)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var rng = new Rng(options.Seed);
        network.DropoutRng = rng.Fork();
        var trainer = new Trainer<float>(network, Optimizers.Create<float>(options.Optimizer, options.LearningRate, options.WeightDecay), loss)
        {
            ClipNorm = options.ClipNorm,
            ClassWeights = classWeights ?? Array.Empty<float>(),
            PositiveWeight = positiveWeight,
        };
        int F = network.Options.FeatureSize;
        // Word dropout's own stream (the batch order's generator is not touched); checkpoints keep its state.
        var wordRng = new Rng(options.Seed ^ 0x9E3779B97F4A7C15UL);
        var run = new RunState(options, network.Parameters, trainer.Optimizer, network.DropoutRng, () => ModelFile.From(network),
            FormattableString.Invariant($"SequenceFitter.Fit {loss}, {network.Parameters.Count} parameters, batch {options.BatchSize}, buffer {bufferSize}, seed {options.Seed}, {options.Optimizer}"),
            wordRng);
        var resume = run.Resume(rng);
        int[] order = resume?.Order ?? Array.Empty<int>();
        var buffer = new List<LabeledSequence>();
        var keep = WordDropoutKeepProbabilities(network, train, options);
        for (int epoch = resume?.Epoch ?? 1; epoch <= options.Epochs && !run.Finished; epoch++)
        {
            var sw = Stopwatch.StartNew();
            double sum = resume?.LossSum ?? 0; long tokens = resume?.Tokens ?? 0, tokensBefore = tokens; long done = resume?.Examples ?? 0;
            long chunk = resume?.Chunk ?? 0;
            int firstBatch = resume?.Batch ?? 0;
            resume = null;
            using (var rows = train.Read(chunk * bufferSize).GetEnumerator())
            {
                while (!run.Result.Stopped)
                {
                    buffer.Clear();
                    while (buffer.Count < bufferSize && rows.MoveNext()) buffer.Add(rows.Current ?? throw new ArgumentException($"Training row {chunk * bufferSize + buffer.Count} is null.", nameof(train)));
                    if (buffer.Count == 0) break;
                    // The chunk's batches are a function of the generator and the order at its start: a checkpoint keeps both.
                    if (order.Length != buffer.Count) { order = new int[buffer.Count]; for (int i = 0; i < order.Length; i++) order[i] = i; }
                    var chunkRng = rng.SaveState();
                    var chunkOrder = run.Enabled ? (int[])order.Clone() : order;
                    var batches = MakeBatches(buffer, order, options.BatchSize, F, rng);
                    for (int bi = firstBatch; bi < batches.Count; bi++)
                    {
                        if (run.ShouldStop)
                        {
                            run.Result.Stopped = true;
                            run.Checkpoint(epoch, chunk, bi, chunkRng, chunkOrder, sum, tokens, done);
                            break;
                        }
                        var idx = batches[bi];
                        var passes = Passes(buffer, idx, options.MaximumBatchTokens, F);
                        var parts = new (SequenceBatch<float>, Targets<float>)[passes.Count];
                        for (int p = 0; p < parts.Length; p++)
                        {
                            parts[p] = Collate(network, buffer, passes[p]);
                            if (keep is not null) DropWords(parts[p].Item1, keep, options.UnknownTokenId, wordRng);
                        }
                        sum += trainer.TrainStep(parts) * idx.Length;
                        done += idx.Length;
                        foreach (int i in idx) tokens += buffer[i].Length(F);
                        options.BatchProgress?.Invoke(epoch, ClampToInt(done), ClampToInt(train.Count is long n ? n : done), sum / done);
                        if (run.Due) run.Checkpoint(epoch, chunk, bi + 1, chunkRng, chunkOrder, sum, tokens, done);
                    }
                    firstBatch = 0;
                    chunk++;
                    if (buffer.Count < bufferSize) break;
                }
            }
            if (done == 0 && !run.Result.Stopped) throw new ArgumentException("The training source yielded no examples.", nameof(train));
            if (done == 0) break;
            double? vLoss = null, vAcc = null;
            if (validation is { Count: > 0 })
            {
                var (l, a) = Evaluate(trainer, validation, options.BatchSize, options.MaximumBatchTokens);
                vLoss = l; vAcc = a;
            }
            var report = new EpochReport(epoch, options.Epochs, sum / done, vLoss, vAcc, (tokens - tokensBefore) / System.Math.Max(sw.Elapsed.TotalSeconds, 1e-9),
                trainer.Optimizer.LearningRate, run.Elapsed, trainer.Optimizer.StepCount);
            if (run.EndEpoch(report, rng, order)) break;
        }
        return run.Finish();
    }

    /// <summary>Per token id, the probability n / (α + n) that rare-word dropout keeps it; null when word dropout is off.</summary>
    private static double[]? WordDropoutKeepProbabilities(SequenceNetwork<float> network, ISequenceSource train, FitOptions options)
    {
        var o = network.Options;
        if (options.WordDropoutAlpha <= 0 || options.UnknownTokenId < 0 || o.Input == InputKind.Dense) return null;
        if (options.UnknownTokenId >= o.VocabularySize)
            throw new ArgumentException($"UnknownTokenId {options.UnknownTokenId} is outside the vocabulary [0, {o.VocabularySize}).", nameof(options));
        var counts = new double[o.VocabularySize];
        foreach (var ex in train.Read(0))
            foreach (int id in ex.Tokens ?? Array.Empty<int>())
                if ((uint)id < (uint)counts.Length) counts[id]++;
        for (int i = 0; i < counts.Length; i++) counts[i] = counts[i] / (options.WordDropoutAlpha + counts[i]);
        return counts;
    }

    private static void DropWords(SequenceBatch<float> batch, double[] keep, int unknown, Rng rng)
    {
        int[] tokens = batch.Tokens!;
        for (int b = 0; b < batch.Batch; b++)
            for (int t = 0; t < batch.Lengths[b]; t++)
            {
                ref int id = ref tokens[b * batch.Steps + t];
                if (rng.NextDouble() >= keep[id]) id = unknown;
            }
    }

    /// <summary>
    /// Mean loss and accuracy (classification losses) of a network on sequences, in batches of <paramref name="batchSize"/>
    /// (the loss is the mean of the batches' losses weighted by their sizes). <paramref name="maximumBatchTokens"/> (0 = no
    /// limit) runs a batch with more padded tokens in several passes (<see cref="Passes"/>), with the same loss and accuracy.
    /// </summary>
    public static (double Loss, double? Accuracy) Evaluate(Trainer<float> trainer, IReadOnlyList<LabeledSequence> data, int batchSize, int maximumBatchTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        var net = trainer.Network;
        int F = net.Options.FeatureSize;
        double sum = 0; long correct = 0, counted = 0;
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int n = System.Math.Min(batchSize, data.Count - start);
            var idx = new int[n];
            for (int i = 0; i < n; i++) idx[i] = start + i;
            var passes = Passes(data, idx, maximumBatchTokens, F);
            double weighted = 0, weights = 0, loss = 0;
            foreach (var pass in passes)
            {
                var (batch, targets) = Collate(net, data, pass);
                loss = trainer.Evaluate(batch, targets);
                if (passes.Count > 1) // the batch's loss: its passes' losses weighted by their shares of its normalizer
                {
                    double w = trainer.LossWeight(batch, targets);
                    weighted += loss * w; weights += w;
                }
                var (right, all) = CountCorrect(trainer, batch, targets);
                correct += right; counted += all;
            }
            sum += (passes.Count > 1 ? (weights > 0 ? weighted / weights : 0) : loss) * n;
        }
        return (sum / System.Math.Max(1, data.Count), counted > 0 ? (double)correct / counted : null);
    }

    /// <summary>Right and counted predictions of the last forward pass (classification losses; none for regression).</summary>
    private static (long Right, long Counted) CountCorrect(Trainer<float> trainer, SequenceBatch<float> batch, Targets<float> targets)
    {
        var net = trainer.Network;
        var y = net.Output;
        int o = net.Options.OutputSize, n = batch.Batch;
        long correct = 0, counted = 0;
        if (trainer.Loss == LossKind.SoftmaxCrossEntropy && net.Options.Output == OutputMode.LastStep)
        {
            for (int b = 0; b < n; b++)
            {
                if (ArgMax(y.Slice(b * o, o)) == targets.Classes![b]) correct++;
                counted++;
            }
        }
        else if (trainer.Loss == LossKind.SoftmaxCrossEntropy)
        {
            for (int b = 0; b < n; b++)
                for (int t = 0; t < batch.Lengths[b]; t++)
                {
                    if (ArgMax(y.Slice((b * batch.Steps + t) * o, o)) == targets.Classes![b * batch.Steps + t]) correct++;
                    counted++;
                }
        }
        else if (trainer.Loss == LossKind.SigmoidBinaryCrossEntropy && net.Options.Output == OutputMode.LastStep)
        {
            for (int i = 0; i < n * o; i++)
            {
                if ((y[i] > 0) == (targets.Values![i] > 0.5f)) correct++;
                counted++;
            }
        }
        return (correct, counted);
    }

    /// <summary>
    /// Splits the batch <paramref name="indices"/> into passes of at most <paramref name="maximumTokens"/> padded tokens each
    /// (sequences × the longest one's steps; 0 = no limit). A batch within the limit is one pass, as given. Otherwise its
    /// sequences are ordered by length (stably: a batch from the length-bucketed shuffle is already in that order) and cut
    /// greedily: a pass closes when one more sequence would take it over the limit, and a sequence longer than the limit
    /// makes a pass of its own. Every index is in exactly one pass.
    /// </summary>
    internal static List<int[]> Passes(IReadOnlyList<LabeledSequence> data, int[] indices, int maximumTokens, int featureSize)
    {
        int longest = 0;
        foreach (int i in indices) longest = System.Math.Max(longest, data[i].Length(featureSize));
        if (maximumTokens <= 0 || (long)longest * indices.Length <= maximumTokens) return new List<int[]> { indices };
        var byLength = indices.OrderBy(i => data[i].Length(featureSize)).ToArray(); // OrderBy is stable
        var passes = new List<int[]>();
        int first = 0;
        for (int k = 1; k <= byLength.Length; k++)
        {
            // the pass [first, k) is full when adding sequence k (the longest so far) would exceed the limit
            if (k == byLength.Length || (long)data[byLength[k]].Length(featureSize) * (k - first + 1) > maximumTokens)
            {
                passes.Add(byLength[first..k]);
                first = k;
            }
        }
        return passes;
    }

    /// <summary>
    /// Trains a per-step language model on a token stream with truncated BPTT: the stream is cut into
    /// <see cref="FitOptions.BatchSize"/> contiguous columns, read <see cref="FitOptions.BpttSteps"/> tokens at a time, the
    /// hidden state carried from chunk to chunk (and reset each epoch). Validation loss is the mean cross-entropy in nats per token.
    /// </summary>
    public static FitResult FitStream(SequenceNetwork<float> network, int[] train, int[]? validation, FitOptions options)
    {
        ArgumentNullException.ThrowIfNull(train);
        return FitStream(network, new ArrayTokenSource(train), validation, options);
    }

    /// <summary>
    /// <see cref="FitStream(SequenceNetwork{float}, int[], int[], FitOptions)"/> on a stream read piece by piece
    /// (<see cref="ITokenSource"/>, e.g. a file of token ids): only the current chunk's tokens are in memory, and the
    /// weights equal those of training on the same tokens held in an array.
    /// </summary>
    public static FitResult FitStream(SequenceNetwork<float> network, ITokenSource train, int[]? validation, FitOptions options)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (network.Options.Output != OutputMode.PerStep) throw new ArgumentException("Stream training needs a per-step network.", nameof(network));
        int B = options.BatchSize, T = options.BpttSteps;
        if (train.Length < B + 1) throw new ArgumentException($"The training stream has {train.Length} tokens; at least batch size + 1 = {B + 1} are needed.", nameof(train));
        var rng = new Rng(options.Seed);
        network.DropoutRng = rng.Fork();
        var trainer = new Trainer<float>(network, Optimizers.Create<float>(options.Optimizer, options.LearningRate, options.WeightDecay), LossKind.SoftmaxCrossEntropy)
        { ClipNorm = options.ClipNorm };
        var run = new RunState(options, network.Parameters, trainer.Optimizer, network.DropoutRng, () => ModelFile.From(network),
            FormattableString.Invariant($"SequenceFitter.FitStream, {network.Parameters.Count} parameters, {train.Length} tokens, batch {B}, bptt {T}, seed {options.Seed}, {options.Optimizer}"));
        var resume = run.Resume(rng);
        var state = network.CreateState(B);
        long columnLength = (train.Length - 1) / B;
        int chunks = (int)((columnLength + T - 1) / T);
        var window = new int[T + 1];
        for (int epoch = resume?.Epoch ?? 1; epoch <= options.Epochs && !run.Finished; epoch++)
        {
            var sw = Stopwatch.StartNew();
            state.Reset();
            double sum = resume?.LossSum ?? 0; long tokens = resume?.Tokens ?? 0, tokensBefore = tokens;
            int chunk = resume?.Batch ?? 0;
            if (resume is { CarriedHidden.Length: > 0 }) RunState.RestoreCarried(resume, state);
            resume = null;
            var epochRng = rng.SaveState();
            for (long start = (long)chunk * T; start < columnLength; start += T, chunk++)
            {
                if (run.ShouldStop)
                {
                    run.Result.Stopped = true;
                    run.Checkpoint(epoch, 0, chunk, epochRng, Array.Empty<int>(), sum, tokens, 0, state);
                    break;
                }
                var (batch, targets) = StreamChunk(train, B, columnLength, start, T, window);
                int n = batch.Steps * B;
                sum += trainer.TrainStep(batch, targets, state) * n;
                tokens += n;
                options.BatchProgress?.Invoke(epoch, chunk + 1, chunks, sum / tokens);
                if (run.Due) run.Checkpoint(epoch, 0, chunk + 1, epochRng, Array.Empty<int>(), sum, tokens, 0, state);
            }
            if (tokens == 0) break;
            double? vLoss = validation is { Length: > 1 } ? StreamLoss(network, validation, System.Math.Min(B, validation.Length - 1), T) : null;
            var report = new EpochReport(epoch, options.Epochs, sum / tokens, vLoss, null, (tokens - tokensBefore) / System.Math.Max(sw.Elapsed.TotalSeconds, 1e-9),
                trainer.Optimizer.LearningRate, run.Elapsed, trainer.Optimizer.StepCount) { Sample = options.Sampler?.Invoke() };
            if (run.EndEpoch(report, rng, Array.Empty<int>())) break;
        }
        return run.Finish();
    }

    /// <summary>Mean next-token cross-entropy (nats per token) of a stream, evaluated with carried state.</summary>
    public static double StreamLoss(SequenceNetwork<float> network, int[] stream, int batchSize, int bptt)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.Length < 2) throw new ArgumentException("A stream needs at least two tokens to score.", nameof(stream));
        int B = System.Math.Max(1, System.Math.Min(batchSize, stream.Length - 1));
        var trainer = new Trainer<float>(network, new Sgd<float>(1), LossKind.SoftmaxCrossEntropy);
        var state = network.CreateState(B);
        int columnLength = (stream.Length - 1) / B;
        var source = new ArrayTokenSource(stream);
        var window = new int[bptt + 1];
        double sum = 0; long n = 0;
        for (int start = 0; start < columnLength; start += bptt)
        {
            var (batch, targets) = StreamChunk(source, B, columnLength, start, bptt, window);
            int count = batch.Steps * B;
            sum += trainer.Evaluate(batch, targets, state) * count;
            n += count;
        }
        return sum / n;
    }

    /// <summary>Chunk [start, start + T) of each of the B columns (column b starts at b·columnLength), and each token's successor.</summary>
    private static (SequenceBatch<float>, Targets<float>) StreamChunk(ITokenSource stream, int B, long columnLength, long start, int T, int[] window)
    {
        int steps = (int)System.Math.Min(T, columnLength - start);
        var tokens = new int[B * steps];
        var next = new int[B * steps];
        for (int b = 0; b < B; b++)
        {
            var w = window.AsSpan(0, steps + 1);
            stream.Read(b * columnLength + start, w);
            w.Slice(0, steps).CopyTo(tokens.AsSpan(b * steps, steps));
            w.Slice(1, steps).CopyTo(next.AsSpan(b * steps, steps));
        }
        return (SequenceBatch<float>.FromTokens(tokens, B, steps), new Targets<float> { Classes = next });
    }

    private static int ClampToInt(long n) => (int)System.Math.Min(n, int.MaxValue);

    /// <summary>The weights of the best validation epoch so far, and the epochs since it.</summary>
    internal sealed class BestWeights
    {
        public float[]? Weights;
        public double Loss = double.PositiveInfinity;
        public int SinceBest;

        public void Restore(ParameterStore<float> store)
        {
            if (Weights is null) return;
            Weights.CopyTo(store.Buffer, 0);
            store.MarkChanged();
        }
    }

    /// <summary>
    /// End-of-epoch bookkeeping shared by both loops: report, keep the best validation weights, early stopping, schedule.
    /// Returns true when training should stop.
    /// </summary>
    internal static bool EndEpoch(ParameterStore<float> store, Optimizer<float> optimizer, FitOptions options, FitResult result, BestWeights best, EpochReport report)
    {
        result.History.Add(report);
        options.Progress?.Invoke(report);
        if (report.ValidationLoss is double v)
        {
            double criterion = report.ValidationScore is double score ? -score : v; // lower is better
            if (criterion < best.Loss)
            {
                best.Loss = criterion; best.SinceBest = 0; result.BestEpoch = report.Epoch; result.BestValidationLoss = v;
                best.Weights = (float[])store.Buffer.Clone();
            }
            else if (options.EarlyStoppingPatience > 0 && ++best.SinceBest >= options.EarlyStoppingPatience) return true;
        }
        else result.BestEpoch = report.Epoch;
        if (options.Schedule is not null)
            optimizer.LearningRate = options.Schedule.NextRate(report.Epoch, optimizer.LearningRate, report.ValidationLoss ?? report.TrainLoss);
        return result.Stopped;
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /// <summary>Shuffles, then sorts within windows of 50 batches by length so a batch holds similar lengths (less padding).</summary>
    private static List<int[]> MakeBatches(List<LabeledSequence> data, int[] order, int batchSize, int featureSize, Rng rng)
    {
        rng.Shuffle(order.AsSpan());
        int window = batchSize * 50;
        for (int s = 0; s < order.Length; s += window)
        {
            int n = System.Math.Min(window, order.Length - s);
            Array.Sort(order, s, n, Comparer<int>.Create((a, b) => data[a].Length(featureSize).CompareTo(data[b].Length(featureSize))));
        }
        var batches = new List<int[]>();
        for (int s = 0; s < order.Length; s += batchSize)
            batches.Add(order.AsSpan(s, System.Math.Min(batchSize, order.Length - s)).ToArray());
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batches));
        return batches;
    }

    /// <summary>A token batch with every token's characters, padded to the longest token of the batch.</summary>
    private static SequenceBatch<float> WithCharacters(IReadOnlyList<LabeledSequence> data, int[] indices, int[] tokens, int S, int[] lengths)
    {
        int B = indices.Length, C = 1;
        for (int b = 0; b < B; b++)
        {
            var chars = data[indices[b]].Characters ?? throw new ArgumentException($"Example {indices[b]} has no characters; the network reads the characters of every token.", nameof(data));
            if (chars.Length != lengths[b]) throw new ArgumentException($"Example {indices[b]} has {lengths[b]} tokens but characters for {chars.Length}.", nameof(data));
            foreach (var w in chars)
            {
                if (w is null || w.Length == 0) throw new ArgumentException($"Example {indices[b]} has a token without characters; every token needs at least one.", nameof(data));
                C = System.Math.Max(C, w.Length);
            }
        }
        var ids = new int[B * S * C];
        var charLengths = new int[B * S];
        for (int b = 0; b < B; b++)
        {
            var chars = data[indices[b]].Characters!;
            for (int t = 0; t < chars.Length; t++)
            {
                chars[t].CopyTo(ids, (b * S + t) * C);
                charLengths[b * S + t] = chars[t].Length;
            }
        }
        return SequenceBatch<float>.FromTokensAndCharacters(tokens, B, S, lengths, ids, charLengths, C);
    }

    /// <summary>Pads the chosen sequences into one batch with their targets.</summary>
    public static (SequenceBatch<float> Batch, Targets<float> Targets) Collate(SequenceNetwork<float> network, IReadOnlyList<LabeledSequence> data, int[] indices)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(indices);
        var o = network.Options;
        int B = indices.Length, F = System.Math.Max(1, o.FeatureSize), S = 0;
        var lengths = new int[B];
        for (int b = 0; b < B; b++)
        {
            lengths[b] = data[indices[b]].Length(F);
            if (lengths[b] == 0) throw new ArgumentException($"Example {indices[b]} is an empty sequence.", nameof(data));
            S = System.Math.Max(S, lengths[b]);
        }
        SequenceBatch<float> batch;
        if (o.Input == InputKind.Dense)
        {
            var features = new float[B * S * F];
            for (int b = 0; b < B; b++) data[indices[b]].Features!.CopyTo(features, b * S * F);
            batch = SequenceBatch<float>.FromFeatures(features, B, S, F, lengths);
        }
        else
        {
            var tokens = new int[B * S];
            for (int b = 0; b < B; b++) data[indices[b]].Tokens!.CopyTo(tokens, b * S);
            batch = o.HasCharacterFeatures ? WithCharacters(data, indices, tokens, S, lengths) : SequenceBatch<float>.FromTokens(tokens, B, S, lengths);
        }
        if (o.WideFeatures > 0)
        {
            var rows = new (int[], float[])[B];
            for (int b = 0; b < B; b++) rows[b] = (data[indices[b]].BagIds ?? Array.Empty<int>(), data[indices[b]].BagValues ?? Array.Empty<float>());
            batch.WithBag(SparseRows<float>.FromRows(rows));
        }
        Targets<float> targets;
        var first = data[indices[0]];
        if (first.StepClasses is not null)
        {
            var classes = new int[B * S];
            for (int b = 0; b < B; b++) data[indices[b]].StepClasses!.CopyTo(classes, b * S);
            targets = new Targets<float> { Classes = classes };
        }
        else if (first.Values is not null)
        {
            int width = first.Values.Length;
            var values = new float[B * width];
            for (int b = 0; b < B; b++) data[indices[b]].Values!.CopyTo(values, b * width);
            targets = new Targets<float> { Values = values };
        }
        else
        {
            var classes = new int[B];
            for (int b = 0; b < B; b++) classes[b] = data[indices[b]].Class;
            targets = new Targets<float> { Classes = classes };
        }
        return (batch, targets);
    }
}
