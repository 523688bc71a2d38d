using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Training;

/// <summary>One training example of an encoder–decoder: a source (token ids or a feature vector) and the target token ids
/// (without end-of-sequence; the fitter appends it).</summary>
public sealed class SequencePair
{
    /// <summary>Source token ids (token sources).</summary>
    public int[]? Source { get; init; }

    /// <summary>Source feature vector (feature sources).</summary>
    public float[]? Features { get; init; }

    /// <summary>Target token ids, none of them the end-of-sequence id 0.</summary>
    public required int[] Target { get; init; }
}

/// <summary>
/// Teacher-forced training of an <see cref="EncoderDecoderNetwork{T}"/>: the decoder reads end-of-sequence then the target
/// and is trained to predict the target then end-of-sequence (softmax cross-entropy, mean over target tokens, optionally
/// label-smoothed), with Adam
/// (or another optimizer), global-norm clipping, validation, best-epoch weights, early stopping, progress and cancellation.
/// </summary>
public static class EncoderDecoderFitter
{
    /// <summary>Trains on <paramref name="train"/>; the network ends with the best validation epoch's weights (or the last).</summary>
    public static FitResult Fit(EncoderDecoderNetwork<float> network, IReadOnlyList<SequencePair> train, IReadOnlyList<SequencePair>? validation, FitOptions options)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (train.Count == 0) throw new ArgumentException("The training set is empty.", nameof(train));
        var rng = new Rng(options.Seed);
        network.DropoutRng = rng.Fork();
        var optimizer = Optimizers.Create<float>(options.Optimizer, options.LearningRate, options.WeightDecay);
        var run = new RunState(options, network.Parameters, optimizer, network.DropoutRng, () => ModelFile.From(network),
            FormattableString.Invariant($"EncoderDecoderFitter.Fit, {network.Parameters.Count} parameters, {train.Count} pairs, batch {options.BatchSize}, seed {options.Seed}, {options.Optimizer}"));
        var resume = run.Resume(rng);
        var order = resume?.Order is { Length: > 0 } saved ? saved : Enumerable.Range(0, train.Count).ToArray();
        if (order.Length != train.Count) throw new ArgumentException($"The checkpoint '{options.CheckpointPath}' was written for {order.Length} pairs; the training set has {train.Count}.", nameof(train));
        float[] dLogits = Array.Empty<float>();
        for (int epoch = resume?.Epoch ?? 1; epoch <= options.Epochs && !run.Finished; epoch++)
        {
            var sw = Stopwatch.StartNew();
            // The epoch's batches are a function of the generator and the order at its start: a checkpoint keeps both.
            var epochRng = rng.SaveState();
            var epochOrder = run.Enabled ? (int[])order.Clone() : order;
            rng.Shuffle(order.AsSpan());
            double sum = resume?.LossSum ?? 0; long tokens = resume?.Tokens ?? 0, tokensBefore = tokens; long done = resume?.Examples ?? 0;
            int firstBatch = resume?.Batch ?? 0;
            resume = null;
            for (int bi = firstBatch, start = firstBatch * options.BatchSize; start < order.Length; bi++, start += options.BatchSize)
            {
                if (run.ShouldStop)
                {
                    run.Result.Stopped = true;
                    run.Checkpoint(epoch, 0, bi, epochRng, epochOrder, sum, tokens, done);
                    break;
                }
                var idx = order.AsSpan(start, System.Math.Min(options.BatchSize, order.Length - start)).ToArray();
                var (batch, targets) = Collate(network.Options, train, idx);
                ReadOnlySpan<float> logits = network.Forward(batch, training: true);
                if (dLogits.Length < logits.Length) dLogits = new float[logits.Length];
                double loss = SoftmaxCrossEntropy.Compute(logits, targets, network.Options.TargetVocabularySize, dLogits.AsSpan(0, logits.Length),
                    labelSmoothing: options.LabelSmoothing);
                Trainer<float>.ThrowIfDiverged(loss, optimizer, options.ClipNorm);
                network.Parameters.ZeroGradients();
                network.Backward(dLogits.AsSpan(0, logits.Length));
                Trainer<float>.ClipAndStep(network.Parameters, optimizer, options.ClipNorm);
                sum += loss * idx.Length;
                done += idx.Length;
                foreach (int i in idx) tokens += train[i].Target.Length + 1;
                options.BatchProgress?.Invoke(epoch, (int)done, train.Count, sum / done);
                if (run.Due) run.Checkpoint(epoch, 0, bi + 1, epochRng, epochOrder, sum, tokens, done);
            }
            if (done == 0) break;
            double? vLoss = null, vAcc = null;
            if (validation is { Count: > 0 })
            {
                var (l, a) = Evaluate(network, validation, options.BatchSize);
                vLoss = l; vAcc = a;
            }
            var report = new EpochReport(epoch, options.Epochs, sum / done, vLoss, vAcc, (tokens - tokensBefore) / System.Math.Max(sw.Elapsed.TotalSeconds, 1e-9),
                optimizer.LearningRate, run.Elapsed, optimizer.StepCount) { ValidationScore = vLoss is null ? null : options.ValidationScore?.Invoke() };
            if (run.EndEpoch(report, rng, order)) break;
        }
        return run.Finish();
    }

    /// <summary>Teacher-forced mean cross-entropy per target token (end-of-sequence included) and next-token accuracy.</summary>
    public static (double Loss, double Accuracy) Evaluate(EncoderDecoderNetwork<float> network, IReadOnlyList<SequencePair> data, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        double sum = 0; long count = 0, correct = 0;
        int V = network.Options.TargetVocabularySize;
        for (int start = 0; start < data.Count; start += batchSize)
        {
            var idx = Enumerable.Range(start, System.Math.Min(batchSize, data.Count - start)).ToArray();
            var (batch, targets) = Collate(network.Options, data, idx);
            ReadOnlySpan<float> logits = network.Forward(batch);
            int n = 0;
            foreach (int y in targets) if (y != SoftmaxCrossEntropy.IgnoreIndex) n++;
            sum += SoftmaxCrossEntropy.Compute(logits, targets, V, default) * n;
            count += n;
            for (int r = 0; r < targets.Length; r++)
            {
                if (targets[r] == SoftmaxCrossEntropy.IgnoreIndex) continue;
                ReadOnlySpan<float> row = logits.Slice(r * V, V);
                int arg = 0;
                for (int j = 1; j < V; j++) if (row[j] > row[arg]) arg = j;
                if (arg == targets[r]) correct++;
            }
        }
        return (sum / System.Math.Max(1, count), (double)correct / System.Math.Max(1, count));
    }

    /// <summary>Fraction of examples whose decoded target equals the reference exactly.</summary>
    public static double ExactMatch(EncoderDecoderNetwork<float> network, IReadOnlyList<SequencePair> data, DecodingOptions? decoding = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) return 0;
        int hits = 0;
        foreach (var pair in data)
        {
            var decoded = network.Options.Source == SourceKind.Tokens
                ? network.Decode(pair.Source, decoding)
                : network.DecodeFeatures(pair.Features, decoding);
            if (decoded.Tokens.AsSpan().SequenceEqual(pair.Target)) hits++;
        }
        return (double)hits / data.Count;
    }

    /// <summary>
    /// Pads examples into a batch: decoder inputs [0, y1..yn] and targets [y1..yn, 0] (padding targets are
    /// <see cref="SoftmaxCrossEntropy.IgnoreIndex"/>), batch-first [B, St] with St = longest target + 1.
    /// </summary>
    public static (EncoderDecoderBatch<float> Batch, int[] Targets) Collate(EncoderDecoderOptions options, IReadOnlyList<SequencePair> data, int[] indices)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(indices);
        int B = indices.Length, St = 0, Ss = 0;
        foreach (int i in indices)
        {
            var p = data[i] ?? throw new ArgumentException($"Example {i} is null.", nameof(data));
            if (p.Target is null) throw new ArgumentException($"Example {i} has no target.", nameof(data));
            if (Array.IndexOf(p.Target, EncoderDecoderNetwork<float>.EndOfSequence) >= 0)
                throw new ArgumentException($"Example {i}'s target contains the end-of-sequence id {EncoderDecoderNetwork<float>.EndOfSequence}; targets hold only real tokens.", nameof(data));
            St = System.Math.Max(St, p.Target.Length + 1);
            if (options.Source == SourceKind.Tokens)
            {
                if (p.Source is not { Length: > 0 }) throw new ArgumentException($"Example {i} has an empty source sequence.", nameof(data));
                Ss = System.Math.Max(Ss, p.Source.Length);
            }
            else if (p.Features is null || p.Features.Length != options.FeatureSize)
                throw new ArgumentException($"Example {i} has {p.Features?.Length ?? 0} features; expected {options.FeatureSize}.", nameof(data));
        }
        var input = new int[B * St];
        var targets = new int[B * St];
        Array.Fill(targets, SoftmaxCrossEntropy.IgnoreIndex);
        var tLengths = new int[B];
        for (int b = 0; b < B; b++)
        {
            int[] y = data[indices[b]].Target;
            tLengths[b] = y.Length + 1;
            y.CopyTo(input, b * St + 1); // input[b, 0] = end-of-sequence (0)
            y.CopyTo(targets, b * St);
            targets[b * St + y.Length] = EncoderDecoderNetwork<float>.EndOfSequence;
        }
        var target = SequenceBatch<float>.FromTokens(input, B, St, tLengths);
        if (options.Source == SourceKind.Tokens)
        {
            var src = new int[B * Ss];
            var sLengths = new int[B];
            for (int b = 0; b < B; b++)
            {
                int[] x = data[indices[b]].Source!;
                sLengths[b] = x.Length;
                x.CopyTo(src, b * Ss);
            }
            return (EncoderDecoderBatch<float>.FromTokens(SequenceBatch<float>.FromTokens(src, B, Ss, sLengths), target), targets);
        }
        var features = new float[B * options.FeatureSize];
        for (int b = 0; b < B; b++) data[indices[b]].Features!.CopyTo(features, b * options.FeatureSize);
        return (EncoderDecoderBatch<float>.FromFeatures(features, target), targets);
    }
}
