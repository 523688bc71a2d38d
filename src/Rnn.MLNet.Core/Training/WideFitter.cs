using System;
using System.Collections.Generic;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Training;

/// <summary>
/// Fits the wide part of a many-to-one network alone — a linear model over the sparse bags (<c>wide.weight</c>,
/// <c>head.bias</c>) — with the recurrent part switched off (<c>head.weight</c> = 0, so the network's output is exactly
/// the linear model's). Joint training then starts from a model as good as a linear classifier and the recurrent part
/// learns what the n-grams miss. Minibatch Adam, early stopping on the validation loss (best weights kept).
/// </summary>
public static class WideFitter
{
    /// <summary>Trains the linear part; returns the history (the network holds the best validation epoch's weights).</summary>
    public static FitResult Fit(SequenceNetwork<float> network, LossKind loss, IReadOnlyList<LabeledSequence> train,
        IReadOnlyList<LabeledSequence>? validation, FitOptions options, float[]? classWeights = null, float positiveWeight = 1)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var o = network.Options;
        if (o.WideFeatures == 0 || o.Output != OutputMode.LastStep) throw new ArgumentException("The network has no wide input.", nameof(network));
        if (loss == LossKind.MeanSquaredError) throw new ArgumentException("The wide fitter trains classifiers (softmax or sigmoid cross-entropy).", nameof(loss));
        int O = o.OutputSize, W = o.WideFeatures;
        network.Parameters.Value("head.weight").Clear();

        // A store of the two linear tensors (the optimizer runs over whole stores); copied back at the end.
        var store = new ParameterStore<float>(new[] { ("wide.weight", new[] { O, W }), ("head.bias", new[] { O }) });
        network.Parameters.Value("wide.weight").CopyTo(store.Value("wide.weight"));
        network.Parameters.Value("head.bias").CopyTo(store.Value("head.bias"));
        var optimizer = Optimizers.Create<float>(options.Optimizer, options.LearningRate, options.WeightDecay);
        var rng = new Rng(options.Seed);
        var order = new int[train.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var result = new FitResult();
        var best = new SequenceFitter.BestWeights();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            rng.Shuffle(order.AsSpan());
            double sum = 0;
            for (int start = 0; start < order.Length; start += options.BatchSize)
            {
                if (options.Cancellation.IsCancellationRequested || (options.TimeLimit is TimeSpan limit && clock.Elapsed > limit)) { result.Stopped = true; break; }
                var idx = order.AsSpan(start, System.Math.Min(options.BatchSize, order.Length - start)).ToArray();
                store.ZeroGradients();
                sum += Batch(store, loss, train, idx, O, W, classWeights, positiveWeight, new float[idx.Length * O], train: true) * idx.Length;
                Trainer<float>.ClipAndStep(store, optimizer, options.ClipNorm);
            }
            double? vLoss = null, vAcc = null;
            if (validation is { Count: > 0 })
            {
                var all = new int[validation.Count];
                for (int i = 0; i < all.Length; i++) all[i] = i;
                (vLoss, vAcc) = Evaluate(store, loss, validation, all, O, W, classWeights, positiveWeight);
            }
            var report = new EpochReport(epoch, options.Epochs, sum / train.Count, vLoss, vAcc, 0, optimizer.LearningRate, clock.Elapsed, optimizer.StepCount);
            if (SequenceFitter.EndEpoch(store, optimizer, options, result, best, report)) break;
        }
        best.Restore(store);
        store.Value("wide.weight").CopyTo(network.Parameters.Value("wide.weight"));
        store.Value("head.bias").CopyTo(network.Parameters.Value("head.bias"));
        return result;
    }

    // out[b] = bias + wide · bag_b; loss over the batch; with train, the gradients of wide and bias.
    private static double Batch(ParameterStore<float> store, LossKind loss, IReadOnlyList<LabeledSequence> data, int[] idx,
        int O, int W, float[]? classWeights, float positiveWeight, float[] output, bool train)
    {
        int B = idx.Length;
        var dOut = train ? new float[B * O] : Array.Empty<float>();
        ReadOnlySpan<float> wide = store.Value("wide.weight"), bias = store.Value("head.bias");
        for (int b = 0; b < B; b++)
        {
            var row = data[idx[b]];
            bias.CopyTo(output.AsSpan(b * O, O));
            if (row.BagIds is null) continue;
            for (int k = 0; k < row.BagIds.Length; k++)
                for (int c = 0; c < O; c++) output[b * O + c] += row.BagValues![k] * wide[c * W + row.BagIds[k]];
        }
        double value;
        if (loss == LossKind.SoftmaxCrossEntropy)
        {
            var classes = new int[B];
            for (int b = 0; b < B; b++) classes[b] = data[idx[b]].Class;
            value = SoftmaxCrossEntropy.Compute<float>(output, classes, O, dOut, classWeights ?? Array.Empty<float>());
        }
        else
        {
            var targets = new float[B * O];
            for (int b = 0; b < B; b++) data[idx[b]].Values!.CopyTo(targets, b * O);
            value = SigmoidBinaryCrossEntropy.Compute<float>(output, targets, dOut, positiveWeight);
        }
        if (train)
        {
            Span<float> dWide = store.Gradient("wide.weight"), dBias = store.Gradient("head.bias");
            for (int b = 0; b < B; b++)
            {
                var row = data[idx[b]];
                for (int c = 0; c < O; c++) dBias[c] += dOut[b * O + c];
                if (row.BagIds is null) continue;
                for (int k = 0; k < row.BagIds.Length; k++)
                    for (int c = 0; c < O; c++) dWide[c * W + row.BagIds[k]] += row.BagValues![k] * dOut[b * O + c];
            }
        }
        return value;
    }

    private static (double Loss, double Accuracy) Evaluate(ParameterStore<float> store, LossKind loss, IReadOnlyList<LabeledSequence> data, int[] idx,
        int O, int W, float[]? classWeights, float positiveWeight)
    {
        var output = new float[idx.Length * O];
        double value = Batch(store, loss, data, idx, O, W, classWeights, positiveWeight, output, train: false);
        int correct = 0;
        for (int b = 0; b < idx.Length; b++)
        {
            var row = data[idx[b]];
            if (loss == LossKind.SoftmaxCrossEntropy)
            {
                int arg = 0;
                for (int c = 1; c < O; c++) if (output[b * O + c] > output[b * O + arg]) arg = c;
                if (arg == row.Class) correct++;
            }
            else if ((output[b] > 0) == (row.Values![0] > 0.5f)) correct++;
        }
        return (value, (double)correct / idx.Length);
    }
}
