using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Finite-difference gradient checks in double precision for the whole network: every cell, input kind (embedding, one-hot,
/// dense), output mode, loss, stacking, bidirectional layers, dropout, masking of variable lengths, the inputs and the
/// initial state. Every parameter tensor is checked element by element.
/// </summary>
public class NetworkGradientTests
{
    private readonly ITestOutputHelper _out;
    public NetworkGradientTests(ITestOutputHelper output) => _out = output;

    public enum Setup
    {
        DensePerStepMse,            // 1 layer, variable lengths, initial state + final-state gradient, dense-input gradient
        EmbeddingLastStepBiDropout, // 2 layers bidirectional, dropout 0.3 (training), multiclass CE with class weights
        OneHotPerStepStacked,       // 2 layers, next-token CE with padding
        DenseLastStepBinaryBi,      // 1 layer bidirectional, sigmoid BCE with pos_weight, variable lengths
    }

    public static IEnumerable<object[]> Cases() =>
        from cell in Enum.GetValues<CellType>()
        from setup in Enum.GetValues<Setup>()
        select new object[] { cell, setup };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AnalyticGradientsMatchCentralDifferences(CellType cell, Setup setup)
    {
        const int B = 3, S = 4, V = 5, F = 3;
        int[] lengths = { 4, 2, 3 };
        var o = new NetworkOptions { Cell = cell, HiddenSize = 4, EmbeddingSize = 3, VocabularySize = V, FeatureSize = F };
        LossKind loss;
        bool training = false, useState = false;
        switch (setup)
        {
            case Setup.DensePerStepMse:
                o.Input = InputKind.Dense; o.Output = OutputMode.PerStep; o.OutputSize = 2; loss = LossKind.MeanSquaredError; useState = true; break;
            case Setup.EmbeddingLastStepBiDropout:
                o.Input = InputKind.Embedding; o.Output = OutputMode.LastStep; o.OutputSize = 3; o.Layers = 2; o.Bidirectional = true; o.Dropout = 0.3f;
                loss = LossKind.SoftmaxCrossEntropy; training = true; useState = true; break;
            case Setup.OneHotPerStepStacked:
                o.Input = InputKind.OneHot; o.Output = OutputMode.PerStep; o.OutputSize = V; o.Layers = 2; loss = LossKind.SoftmaxCrossEntropy; break;
            default:
                o.Input = InputKind.Dense; o.Output = OutputMode.LastStep; o.OutputSize = 1; o.Bidirectional = true; loss = LossKind.SigmoidBinaryCrossEntropy; useState = true; break;
        }
        var net = new SequenceNetwork<double>(o);
        Initializer.Initialize(net, InitScheme.PyTorchDefault, seed: 11);
        var rng = new Rng(99);
        // Spread weights a little wider than the default so gates are away from their linear region.
        for (int i = 0; i < net.Parameters.Count; i++) net.Parameters.Values[i] *= 1.5;

        double[]? features = o.Input == InputKind.Dense ? GradientCheck.RandomArray(rng, B * S * F) : null;
        int[] tokens = Enumerable.Range(0, B * S).Select(_ => rng.NextInt(V)).ToArray();
        var batch = features is null ? SequenceBatch<double>.FromTokens(tokens, B, S, lengths) : SequenceBatch<double>.FromFeatures(features, B, S, F, lengths);
        int rows = o.Output == OutputMode.PerStep ? B * S : B;
        var targets = loss switch
        {
            LossKind.SoftmaxCrossEntropy => new Targets<double> { Classes = Enumerable.Range(0, rows).Select(_ => rng.NextInt(o.OutputSize)).ToArray() },
            LossKind.SigmoidBinaryCrossEntropy => new Targets<double> { Values = Enumerable.Range(0, rows).Select(i => (double)(i % 2)).ToArray() },
            _ => new Targets<double> { Values = GradientCheck.RandomArray(rng, rows * o.OutputSize) },
        };
        var trainer = new Trainer<double>(net, new Sgd<double>(0.1), loss)
        {
            ClassWeights = loss == LossKind.SoftmaxCrossEntropy && o.Output == OutputMode.LastStep ? new[] { 1.0, 2.5, 0.5 } : Array.Empty<double>(),
            PositiveWeight = loss == LossKind.SigmoidBinaryCrossEntropy ? 3.0 : 1.0,
        };
        RecurrentState<double>? h0 = null, rh = null;
        if (useState)
        {
            h0 = net.CreateState(B); rh = net.CreateState(B);
            GradientCheck.RandomArray(rng, h0.Hidden.Length, 0.5).CopyTo(h0.Hidden, 0);
            GradientCheck.RandomArray(rng, h0.Cell.Length, 0.5).CopyTo(h0.Cell, 0);
            GradientCheck.RandomArray(rng, rh.Hidden.Length).CopyTo(rh.Hidden, 0);
            GradientCheck.RandomArray(rng, rh.Cell.Length).CopyTo(rh.Cell, 0);
        }
        var final = net.CreateState(B);

        // Scalar objective: the loss, plus ⟨final state, Rh⟩ so the final-state gradient path is checked too.
        double Objective()
        {
            net.DropoutRng = new Rng(7); // identical dropout masks in every evaluation
            net.Forward(batch, training, h0);
            double value = trainer.ComputeLoss(batch, targets, default);
            if (rh is not null)
            {
                net.CopyFinalState(final);
                for (int i = 0; i < rh.Hidden.Length; i++) value += rh.Hidden[i] * final.Hidden[i];
                for (int i = 0; i < rh.Cell.Length; i++) value += rh.Cell[i] * final.Cell[i];
            }
            return value;
        }

        Objective();
        var dOut = new double[net.Output.Length];
        trainer.ComputeLoss(batch, targets, dOut);
        net.Parameters.ZeroGradients();
        var dInit = useState ? net.CreateState(B) : null;
        var dFeatures = features is null ? Array.Empty<double>() : new double[features.Length];
        net.Backward(dOut, rh, dInit, dFeatures);
        var analytic = (double[])net.Parameters.Gradients.Clone();

        foreach (var p in net.Parameters.Parameters)
        {
            double err = GradientCheck.RelativeError(net.Parameters.Value(p), analytic.AsSpan(p.Offset, p.Size), Objective, net.Parameters.MarkChanged);
            _out.WriteLine($"{p.Name} {p.ShapeText}: {err:e2}");
            GradientCheck.AssertClose($"{cell}/{setup} {p.Name}", err);
        }
        if (features is not null)
            GradientCheck.AssertClose($"{cell}/{setup} inputs", GradientCheck.RelativeError(features, dFeatures, Objective));
        if (h0 is not null)
        {
            GradientCheck.AssertClose($"{cell}/{setup} h0", GradientCheck.RelativeError(h0.Hidden, dInit!.Hidden, Objective));
            if (h0.Cell.Length > 0) GradientCheck.AssertClose($"{cell}/{setup} c0", GradientCheck.RelativeError(h0.Cell, dInit.Cell, Objective));
        }
    }
}
