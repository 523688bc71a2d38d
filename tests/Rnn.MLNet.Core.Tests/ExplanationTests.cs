using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Explanations;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Per-token explanations: the input gradient they are built on (central differences, parameter gradients untouched),
/// the Gauss–Legendre rule, completeness of integrated gradients over random models of every cell, and a planted-token
/// task where the token that decides the label must get the largest contribution.
/// </summary>
public class ExplanationTests
{
    private readonly ITestOutputHelper _out;
    public ExplanationTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void GaussLegendreIntegratesPolynomialsOfDegreeTwoNMinusOneExactly()
    {
        foreach (int n in new[] { 1, 2, 5, 16, 32 })
        {
            var (nodes, weights) = GaussLegendre.OnUnitInterval(n);
            Assert.Equal(1.0, weights.Sum(), 12);
            Assert.All(nodes, a => Assert.InRange(a, 0.0, 1.0));
            for (int degree = 0; degree <= 2 * n - 1; degree++)
                Assert.Equal(1.0 / (degree + 1), nodes.Select((a, k) => weights[k] * System.Math.Pow(a, degree)).Sum(), 12);
        }
    }

    private static SequenceNetwork<T> RandomNetwork<T>(CellType cell, bool bi, int layers, InputKind input, OutputMode output, ulong seed, int outputs = 3)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = new SequenceNetwork<T>(new NetworkOptions
        {
            Cell = cell, Input = input, VocabularySize = 20, EmbeddingSize = 6, HiddenSize = 8, Layers = layers, Bidirectional = bi,
            OutputSize = outputs, Output = output,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, seed);
        // wider than the default so that gates leave their linear region and the path integral is not trivial
        for (int i = 0; i < net.Parameters.Count; i++) net.Parameters.Values[i] *= T.CreateChecked(2.0);
        return net;
    }

    [Theory]
    [InlineData(CellType.RnnTanh, false, InputKind.Embedding)]
    [InlineData(CellType.Lstm, true, InputKind.Embedding)]
    [InlineData(CellType.Gru, true, InputKind.OneHot)]
    [InlineData(CellType.RnnRelu, true, InputKind.Embedding)]
    public void InputGradientMatchesCentralDifferencesAndLeavesParameterGradientsAlone(CellType cell, bool bi, InputKind input)
    {
        foreach (var mode in new[] { OutputMode.LastStep, OutputMode.PerStep })
        {
            var net = RandomNetwork<double>(cell, bi, 2, input, mode, 5);
            var rng = new Rng(17);
            const int B = 2, S = 4;
            int I = net.Options.RecurrentInputSize;
            int[] lengths = { 4, 3 };
            double[] x = GradientCheck.RandomArray(rng, B * S * I);
            var batch = SequenceBatch<double>.FromFeatures(x, B, S, I, lengths);
            int rows = mode == OutputMode.PerStep ? B * S : B;
            double[] r = GradientCheck.RandomArray(rng, rows * net.Options.OutputSize);
            for (int b = 0; b < B; b++)
                for (int t = lengths[b]; t < S && mode == OutputMode.PerStep; t++)
                    Array.Clear(r, (b * S + t) * 3, 3); // padding rows carry no output
            double Objective()
            {
                var y = net.ForwardInputVectors(batch);
                double s = 0;
                for (int i = 0; i < y.Length; i++) s += r[i] * y[i];
                return s;
            }
            Objective();
            var dx = new double[x.Length];
            net.InputGradient(r, dx);
            Assert.All(net.Parameters.Gradients, g => Assert.Equal(0.0, g));
            GradientCheck.AssertGradient($"{cell} bi={bi} {input} {mode}", GradientCheck.RelativeError(x, dx, Objective));
        }
    }

    [Fact]
    public void ForwardOnEmbeddingRowsEqualsForwardOnTokensAndBackwardAfterItIsRefused()
    {
        var net = RandomNetwork<float>(CellType.Lstm, true, 2, InputKind.Embedding, OutputMode.LastStep, 3);
        int[] tokens = { 4, 1, 7, 7, 19 };
        float[] expected = net.Forward(SequenceBatch<float>.FromTokens(tokens, 1, 5)).ToArray();
        var x = tokens.SelectMany(t => net.Parameters.Value("embedding.weight").Slice(t * 6, 6).ToArray()).ToArray();
        Assert.Equal(expected, net.ForwardInputVectors(SequenceBatch<float>.FromFeatures(x, 1, 5, 6)).ToArray());
        Assert.Throws<InvalidOperationException>(() => net.Backward(new float[3]));
    }

    public static TheoryData<CellType, bool> CellsAndDirections()
    {
        var data = new TheoryData<CellType, bool>();
        foreach (var cell in Enum.GetValues<CellType>())
        {
            data.Add(cell, false);
            data.Add(cell, true);
        }
        return data;
    }

    /// <summary>
    /// Completeness: Σ contributions = score(input) − score(baseline) within 1% of the difference, for random models and
    /// random inputs of every cell, one and two directions, many-to-one and many-to-many, zero and token baselines.
    /// The explained scalar is the logit: Score equals the network's raw output for the tokens.
    /// </summary>
    [Theory]
    [MemberData(nameof(CellsAndDirections))]
    public void IntegratedGradientsAddUpToTheScoreDifference(CellType cell, bool bi)
    {
        var rng = new Rng(0xC0FFEE + (ulong)cell * 2 + (bi ? 1UL : 0));
        double worst = 0;
        int cases = 0, nodes = 0;
        for (int model = 0; model < 4; model++)
        {
            var mode = model == 3 ? OutputMode.PerStep : OutputMode.LastStep;
            var net = RandomNetwork<float>(cell, bi, 1 + model % 2, InputKind.Embedding, mode, rng.NextUInt64());
            // a budget large enough for the kinks of the ReLU models (the default, 256 nodes, is sized for serving cost)
            var options = new TokenExplainerOptions { BaselineToken = model % 2 == 0 ? null : 0, MaximumSteps = 4096 };
            var explainer = new TokenExplainer<float>(net, options);
            for (int input = 0; input < 4; input++)
            {
                int[] tokens = Enumerable.Range(0, 2 + rng.NextInt(12)).Select(_ => 1 + rng.NextInt(19)).ToArray();
                int output = rng.NextInt(3), step = mode == OutputMode.PerStep ? rng.NextInt(tokens.Length) : -1;
                var e = explainer.Explain(tokens, output, step);

                var logits = net.Forward(SequenceBatch<float>.FromTokens(tokens, 1, tokens.Length));
                float logit = logits[(mode == OutputMode.PerStep ? step * 3 : 0) + output];
                Assert.True(System.Math.Abs(e.Score - logit) <= 1e-5 * System.Math.Max(1, System.Math.Abs(logit)), $"explained score {e.Score} is not the logit {logit}");

                double difference = e.Score - e.BaselineScore, relative = System.Math.Abs(e.CompletenessGap) / System.Math.Abs(difference);
                Assert.True(relative <= 0.01, $"{cell} bi={bi} model {model} input {input}: Σ contributions {e.Contributions.Sum():G6} vs score difference {difference:G6} (gap {relative:P2}, {e.QuadratureNodes} nodes)");
                worst = System.Math.Max(worst, relative);
                cases++; nodes += e.QuadratureNodes;
            }
        }
        _out.WriteLine($"{cell} bi={bi}: {cases} explanations, worst completeness gap {worst:P3} of score(input) − score(baseline), {(double)nodes / cases:F1} nodes per explanation");
    }

    /// <summary>
    /// A generated task whose label is decided by one planted token among distractors: tokens 1–3 name the class, 4–39 are
    /// noise; each sequence has one planted token at a random position. A small model is trained, then on held-out sequences
    /// the planted token must get the largest contribution to the predicted class's logit in ≥ 95% of cases, by both methods.
    /// </summary>
    [Theory]
    [InlineData(CellType.Lstm, true)]
    [InlineData(CellType.Gru, false)]
    public void ThePlantedTokenGetsTheLargestContribution(CellType cell, bool bi)
    {
        var rng = new Rng(2024);
        List<(int[] Tokens, int Position, int Class)> Generate(int count) => Enumerable.Range(0, count).Select(_ =>
        {
            var tokens = Enumerable.Range(0, 5 + rng.NextInt(8)).Select(_ => 4 + rng.NextInt(36)).ToArray();
            int position = rng.NextInt(tokens.Length), label = rng.NextInt(3);
            tokens[position] = 1 + label;
            return (tokens, position, label);
        }).ToList();
        var train = Generate(1000);
        var heldOut = Generate(200);
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = InputKind.Embedding, VocabularySize = 40, EmbeddingSize = 8, HiddenSize = 16, Bidirectional = bi,
            OutputSize = 3, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 7);
        var fit = SequenceFitter.Fit(net, LossKind.SoftmaxCrossEntropy, train.Select(e => new LabeledSequence { Tokens = e.Tokens, Class = e.Class }).ToList(),
            null, new FitOptions { Epochs = 8, BatchSize = 16, LearningRate = 0.01, Seed = 3 });

        int correct = 0;
        var hits = new Dictionary<AttributionMethod, int>();
        foreach (var method in Enum.GetValues<AttributionMethod>())
        {
            var explainer = new TokenExplainer<float>(net, new TokenExplainerOptions { Method = method });
            int hit = 0;
            foreach (var (tokens, position, label) in heldOut)
            {
                var logits = net.Forward(SequenceBatch<float>.FromTokens(tokens, 1, tokens.Length)).ToArray();
                int predicted = Array.IndexOf(logits, logits.Max());
                if (method == AttributionMethod.IntegratedGradients && predicted == label) correct++;
                var c = explainer.Explain(tokens, predicted).Contributions;
                if (Array.IndexOf(c, c.Max()) == position) hit++;
            }
            hits[method] = hit;
        }
        _out.WriteLine($"{cell} bi={bi}: held-out accuracy {correct}/{heldOut.Count}; planted token largest: integrated gradients {hits[AttributionMethod.IntegratedGradients]}/{heldOut.Count}, occlusion {hits[AttributionMethod.Occlusion]}/{heldOut.Count}");
        Assert.True(correct >= 0.95 * heldOut.Count, $"the model did not learn the task ({correct}/{heldOut.Count}); final train loss {fit.History[^1].TrainLoss:F3}");
        foreach (var (method, hit) in hits)
            Assert.True(hit >= 0.95 * heldOut.Count, $"{method}: the planted token had the largest contribution in {hit} of {heldOut.Count} held-out cases");
    }

    /// <summary>The ensemble score ln(p̄ / (1 − p̄)) and its gradient: against the direct formula and central differences.</summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(2, 4)]
    public void EnsembleScoreIsTheLogOddsOfTheMeanProbabilityWithItsGradient(int members, int outputs)
    {
        var rng = new Rng(11);
        double[] y = Enumerable.Range(0, members * outputs).Select(_ => 6 * (rng.NextDouble() - 0.5)).ToArray();
        int c = outputs - 1;
        double Direct(double[] v)
        {
            double p = 0;
            for (int i = 0; i < members; i++)
            {
                var row = v.Skip(i * outputs).Take(outputs).ToArray();
                p += outputs == 1 ? 1 / (1 + System.Math.Exp(-row[0])) : System.Math.Exp(row[c]) / row.Sum(System.Math.Exp);
            }
            p /= members;
            return System.Math.Log(p / (1 - p));
        }
        var g = new double[y.Length];
        Assert.Equal(Direct(y), EnsembleScore.LogOddsOfMeanProbability(y, outputs, c, g), 10);
        for (int j = 0; j < y.Length; j++)
        {
            double[] up = (double[])y.Clone(), down = (double[])y.Clone();
            up[j] += 1e-6; down[j] -= 1e-6;
            Assert.Equal((Direct(up) - Direct(down)) / 2e-6, g[j], 6);
        }
        // saturated members keep their digits: no clamping, no infinities
        Assert.Equal(40.0, EnsembleScore.LogOddsOfMeanProbability(new[] { 40.0 }, 1, 0), 10);
        Assert.True(double.IsFinite(EnsembleScore.LogOddsOfMeanProbability(new[] { 40.0, 45.0 }, 1, 0)));
    }

    /// <summary>
    /// An ensemble with a wide (bag) input explained as one function: the explained score is the log-odds of the members' mean
    /// probability computed from their own outputs on tokens and bag; token and bag-feature contributions add up to
    /// score − baseline score within 1%; occlusion's contribution of a token is the score's drop when its vectors and its bag
    /// features are taken out.
    /// </summary>
    [Theory]
    [InlineData(CellType.Lstm, 1)]
    [InlineData(CellType.Gru, 3)]
    public void AnEnsembleWithABagIsExplainedWhole(CellType cell, int outputs)
    {
        var rng = new Rng(99 + (ulong)outputs);
        const int W = 12;
        var members = Enumerable.Range(0, 3).Select(i =>
        {
            var net = new SequenceNetwork<float>(new NetworkOptions
            {
                Cell = cell, Input = InputKind.Embedding, VocabularySize = 20, EmbeddingSize = 6, HiddenSize = 8, Bidirectional = true,
                OutputSize = outputs, Output = OutputMode.LastStep, WideFeatures = W,
            });
            Initializer.Initialize(net, InitScheme.PyTorchDefault, 40 + (ulong)i);
            for (int k = 0; k < net.Parameters.Count; k++) net.Parameters.Values[k] *= 2f;
            var wide = net.Parameters.Value(net.Parameters["wide.weight"]);
            for (int k = 0; k < wide.Length; k++) wide[k] = (float)(3 * (rng.NextDouble() - 0.5));
            return net;
        }).ToArray();
        double Score(int[] tokens, int[] ids, double[] values, int output)
        {
            var y = new List<double>();
            foreach (var m in members)
            {
                var batch = SequenceBatch<float>.FromTokens(tokens, 1, tokens.Length).WithBag(new SparseRows<float>(new[] { 0, ids.Length }, ids, values.Select(v => (float)v).ToArray()));
                y.AddRange(m.Forward(batch).ToArray().Select(v => (double)v));
            }
            return EnsembleScore.LogOddsOfMeanProbability(y.ToArray(), outputs, output);
        }
        double worst = 0;
        for (int input = 0; input < 6; input++)
        {
            int[] tokens = Enumerable.Range(0, 3 + rng.NextInt(8)).Select(_ => 1 + rng.NextInt(19)).ToArray();
            // feature f "is formed by" token f % S: the bag without token t drops those features
            int[] ids = Enumerable.Range(0, W).Where(_ => rng.NextInt(2) == 0).ToArray();
            double[] values = ids.Select(_ => 0.2 + rng.NextDouble()).ToArray();
            (int[], double[]) Without(int t)
            {
                var keep = Enumerable.Range(0, ids.Length).Where(k => ids[k] % tokens.Length != t).ToArray();
                return (keep.Select(k => ids[k]).ToArray(), keep.Select(k => values[k]).ToArray());
            }
            var bag = new BagInput(ids, values) { WithoutToken = Without };
            int output = rng.NextInt(outputs);
            var ig = new TokenExplainer<float>(members, ExplainedScore.MeanProbabilityLogOdds).Explain(tokens, output, bag: bag);
            double direct = Score(tokens, ids, values, output);
            Assert.True(System.Math.Abs(ig.Score - direct) <= 1e-5 * System.Math.Max(1, System.Math.Abs(direct)), $"explained {ig.Score}, ensemble {direct}");
            Assert.Equal(ids.Length, ig.FeatureContributions.Length);
            Assert.True(ig.RelativeCompletenessGap <= 0.01, $"input {input}: gap {ig.RelativeCompletenessGap:P2} with {ig.QuadratureNodes} nodes");
            worst = System.Math.Max(worst, ig.RelativeCompletenessGap);

            var occ = new TokenExplainer<float>(members, ExplainedScore.MeanProbabilityLogOdds, new TokenExplainerOptions { Method = AttributionMethod.Occlusion }).Explain(tokens, output, bag: bag);
            int at = rng.NextInt(tokens.Length);
            var (keptIds, keptValues) = Without(at);
            // occluding with the zero baseline: the token's embedding row replaced by zeros, i.e. the members read a zero vector there
            double occluded;
            {
                var y = new List<double>();
                foreach (var m in members)
                {
                    int I = m.Options.EmbeddingSize, S = tokens.Length;
                    var table = m.Parameters.Read(m.Parameters["embedding.weight"]);
                    var x = new float[S * I];
                    for (int t = 0; t < S; t++) if (t != at) table.Slice(tokens[t] * I, I).CopyTo(x.AsSpan(t * I, I));
                    var batch = SequenceBatch<float>.FromFeatures(x, 1, S, I).WithBag(new SparseRows<float>(new[] { 0, keptIds.Length }, keptIds, keptValues.Select(v => (float)v).ToArray()));
                    y.AddRange(m.ForwardInputVectors(batch).ToArray().Select(v => (double)v));
                }
                occluded = EnsembleScore.LogOddsOfMeanProbability(y.ToArray(), outputs, output);
            }
            Assert.True(System.Math.Abs(occ.Contributions[at] - (direct - occluded)) <= 1e-4 * System.Math.Max(1, System.Math.Abs(direct)), $"occlusion {occ.Contributions[at]} vs {direct - occluded}");
        }
        _out.WriteLine($"{cell}, {outputs} output(s), 3 members with a bag: worst completeness gap {worst:P3}");
    }

    /// <summary>
    /// Character features (a tagger's spelling encoder): the input stage's vectors fed back through ForwardInputVectors give
    /// Forward's output, and integrated gradients over each token's whole input vector (embedding and character part) add up.
    /// </summary>
    [Fact]
    public void CharacterFeatureNetworksAreExplainedThroughTheirWholeInputVectors()
    {
        var rng = new Rng(77);
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 20, EmbeddingSize = 6, HiddenSize = 8, Bidirectional = true,
            OutputSize = 3, Output = OutputMode.PerStep, CharacterVocabularySize = 12, CharacterEmbeddingSize = 4, CharacterHiddenSize = 3,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, 8);
        for (int k = 0; k < net.Parameters.Count; k++) net.Parameters.Values[k] *= 2f;
        var explainer = new TokenExplainer<float>(net);
        double worst = 0;
        for (int input = 0; input < 6; input++)
        {
            int S = 2 + rng.NextInt(8);
            int[] tokens = Enumerable.Range(0, S).Select(_ => 1 + rng.NextInt(19)).ToArray();
            int[][] chars = Enumerable.Range(0, S).Select(_ => Enumerable.Range(0, 1 + rng.NextInt(5)).Select(_ => 1 + rng.NextInt(11)).ToArray()).ToArray();
            int c = chars.Max(w => w.Length);
            var flat = new int[S * c];
            for (int t = 0; t < S; t++) chars[t].CopyTo(flat, t * c);
            var batch = SequenceBatch<float>.FromTokensAndCharacters(tokens, 1, S, null, flat, chars.Select(w => w.Length).ToArray(), c);
            float[] expected = net.Forward(batch).ToArray();
            var x = new float[S * net.Options.RecurrentInputSize];
            net.InputVectors(batch, x);
            float[] again = net.ForwardInputVectors(SequenceBatch<float>.FromFeatures(x, 1, S, net.Options.RecurrentInputSize)).ToArray();
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], again[i], 5);

            int step = rng.NextInt(S), output = rng.NextInt(3);
            var e = explainer.Explain(tokens, output, step, characters: chars);
            Assert.Equal(expected[step * 3 + output], e.Score, 4);
            Assert.True(e.RelativeCompletenessGap <= 0.01, $"input {input}: gap {e.RelativeCompletenessGap:P2} with {e.QuadratureNodes} nodes");
            worst = System.Math.Max(worst, e.RelativeCompletenessGap);

            // every step at once: occlusion shares one pass between the steps and gives what step-by-step calls give
            var occlusion = new TokenExplainer<float>(net, new TokenExplainerOptions { Method = AttributionMethod.Occlusion });
            int[] outputs = Enumerable.Range(0, S).Select(_ => rng.NextInt(3)).ToArray();
            var all = occlusion.ExplainEveryStep(tokens, outputs, chars);
            for (int t = 0; t < S; t++)
            {
                var one = occlusion.Explain(tokens, outputs[t], t, characters: chars);
                Assert.Equal(one.Score, all[t].Score, 12);
                for (int u = 0; u < S; u++) Assert.Equal(one.Contributions[u], all[t].Contributions[u], 12);
            }
        }
        Assert.Contains("character", Assert.Throws<ArgumentException>(() => explainer.Explain(new[] { 1, 2 }, 0, 0)).Message, StringComparison.Ordinal);
        _out.WriteLine($"character features: worst completeness gap {worst:P3}");
    }
}
