using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>The textbook toy problems, learned exactly from fixed seeds.</summary>
public class TextbookToyTests
{
    private readonly ITestOutputHelper _out;
    public TextbookToyTests(ITestOutputHelper output) => _out = output;

    /// <summary>Trains a next-token model on one sequence and returns the greedy prediction after every prefix.</summary>
    private static int[] LearnSequence(int[] ids, int vocab, CellType cell, InputKind input, int hidden, int steps, ulong seed)
    {
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = input, VocabularySize = vocab, EmbeddingSize = 8, HiddenSize = hidden,
            OutputSize = vocab, Output = OutputMode.PerStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, seed);
        var trainer = new Trainer<float>(net, new Adam<float>(0.05), LossKind.SoftmaxCrossEntropy);
        int n = ids.Length - 1;
        var batch = SequenceBatch<float>.FromTokens(ids[..n], 1, n);
        var targets = new Targets<float> { Classes = ids[1..] };
        for (int s = 0; s < steps; s++) trainer.TrainStep(batch, targets);
        var output = net.Forward(batch);
        var predicted = new int[n];
        for (int t = 0; t < n; t++)
        {
            var row = output.Slice(t * vocab, vocab);
            for (int c = 1; c < vocab; c++) if (row[c] > row[predicted[t]]) predicted[t] = c;
        }
        return predicted;
    }

    [Theory]
    [InlineData(CellType.RnnTanh, InputKind.OneHot)]
    [InlineData(CellType.Lstm, InputKind.OneHot)]
    [InlineData(CellType.Gru, InputKind.Embedding)]
    public void HelloCharacterByCharacter(CellType cell, InputKind input)
    {
        // min-char-rnn's example: fed h, e, l, l the model must predict e, l, l, o (the second l needs memory).
        var vocab = new Vocabulary(new CharacterTokenizer(), new[] { "h", "e", "l", "o" });
        int[] ids = vocab.Encode("hello");
        int[] predicted = LearnSequence(ids, vocab.Count, cell, input, hidden: 8, steps: 100, seed: 1);
        Assert.Equal("ello", vocab.Decode(predicted));
    }

    [Theory]
    [InlineData(CellType.RnnTanh)]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    public void YouSayGoodbyeAndISayHelloWordByWord(CellType cell)
    {
        // "say" is followed once by "goodbye" and once by "hello": the model has to remember who spoke.
        var tokenizer = new WordTokenizer();
        const string text = "You say goodbye and I say hello.";
        var vocab = Vocabulary.Build(new[] { text.ToLowerInvariant() }, tokenizer, addUnknown: false);
        int[] ids = vocab.Encode(text.ToLowerInvariant());
        Assert.Equal(8, ids.Length); // you say goodbye and i say hello .
        int[] predicted = LearnSequence(ids, vocab.Count, cell, InputKind.Embedding, hidden: 16, steps: 150, seed: 2);
        Assert.Equal(vocab.Decode(ids[1..]), vocab.Decode(predicted));
    }

    /// <summary>
    /// Memory over a delay: a sequence starts with one of K symbols followed by blanks, and the last step must name the
    /// first symbol (many-to-one). Returns held-out accuracy after a fixed training budget.
    /// </summary>
    internal static double RecallAfterDelay(CellType cell, int length, ulong seed, int steps = 300, int distractors = 0, double lr = 0.01)
    {
        const int K = 4, Blank = K, B = 32;
        int vocab = K + 1 + distractors;
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = InputKind.OneHot, VocabularySize = vocab, HiddenSize = 32,
            OutputSize = K, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, cell == CellType.RnnTanh ? InitScheme.PyTorchDefault : InitScheme.Orthogonal, seed);
        var trainer = new Trainer<float>(net, new Adam<float>(lr), LossKind.SoftmaxCrossEntropy) { ClipNorm = 1 };
        var rng = new Rng(seed + 100);
        (SequenceBatch<float>, int[]) Make()
        {
            var tokens = new int[B * length];
            for (int i = 0; i < tokens.Length; i++) tokens[i] = distractors == 0 ? Blank : Blank + 1 + rng.NextInt(distractors);
            var labels = new int[B];
            for (int b = 0; b < B; b++) { labels[b] = rng.NextInt(K); tokens[b * length] = labels[b]; }
            return (SequenceBatch<float>.FromTokens(tokens, B, length), labels);
        }
        for (int s = 0; s < steps; s++)
        {
            var (batch, labels) = Make();
            trainer.TrainStep(batch, new Targets<float> { Classes = labels });
        }
        int correct = 0, total = 0;
        for (int r = 0; r < 8; r++)
        {
            var (batch, labels) = Make();
            var y = net.Forward(batch);
            for (int b = 0; b < B; b++, total++)
            {
                int best = 0;
                for (int c = 1; c < K; c++) if (y[b * K + c] > y[b * K + best]) best = c;
                if (best == labels[b]) correct++;
            }
        }
        return (double)correct / total;
    }

    /// <summary>‖∂L/∂h₀‖ at initialization for a recall sequence of the given length: how much gradient reaches the first step.</summary>
    private static double GradientReachingTheStart(CellType cell, int length)
    {
        const int K = 4, B = 32;
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell, Input = InputKind.OneHot, VocabularySize = 9, HiddenSize = 32, OutputSize = K, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, cell == CellType.RnnTanh ? InitScheme.PyTorchDefault : InitScheme.Orthogonal, 1);
        var rng = new Rng(5);
        var tokens = Enumerable.Range(0, B * length).Select(_ => 5 + rng.NextInt(4)).ToArray();
        var labels = Enumerable.Range(0, B).Select(_ => rng.NextInt(K)).ToArray();
        var batch = SequenceBatch<float>.FromTokens(tokens, B, length);
        var trainer = new Trainer<float>(net, new Sgd<float>(0.1), LossKind.SoftmaxCrossEntropy);
        net.Forward(batch);
        var dOut = new float[net.Output.Length];
        trainer.ComputeLoss(batch, new Targets<float> { Classes = labels }, dOut);
        var dInit = net.CreateState(B);
        net.Backward(dOut, dInitialState: dInit);
        return System.Math.Sqrt(dInit.Hidden.Sum(v => (double)v * v) + dInit.Cell.Sum(v => (double)v * v));
    }

    [Fact]
    public void VanillaRnnForgetsOverLongDelaysWhereLstmAndGruRemember()
    {
        // The vanishing-gradient story, measured: how much gradient reaches step 0 from a loss at step 60 vs step 5 …
        foreach (var cell in new[] { CellType.RnnTanh, CellType.Lstm, CellType.Gru })
            _out.WriteLine($"{cell}: ‖∂L/∂h0‖ at length 5 = {GradientReachingTheStart(cell, 5):e2}, at length 60 = {GradientReachingTheStart(cell, 60):e2}");
        double rnnDecay = GradientReachingTheStart(CellType.RnnTanh, 60) / GradientReachingTheStart(CellType.RnnTanh, 5);
        double lstmDecay = GradientReachingTheStart(CellType.Lstm, 60) / GradientReachingTheStart(CellType.Lstm, 5);
        Assert.True(rnnDecay < 1e-3 * lstmDecay, $"RNN keeps {rnnDecay:e2} of its gradient over 55 more steps, LSTM {lstmDecay:e2}");

        // … and what it does to learning: recall the first of 60 symbols (the rest random distractors), 3 seeds each.
        var results = new System.Collections.Generic.Dictionary<string, double>();
        foreach (var (cell, length) in new[] { (CellType.RnnTanh, 5), (CellType.RnnTanh, 60), (CellType.Lstm, 60), (CellType.Gru, 60) })
        {
            double[] acc = new ulong[] { 1, 2, 3 }.Select(seed => RecallAfterDelay(cell, length, seed, steps: length == 5 ? 300 : 800, distractors: 4, lr: 0.003)).ToArray();
            results[$"{cell}@{length}"] = acc.Min();
            _out.WriteLine($"{cell} at length {length}: held-out accuracy per seed {string.Join(", ", acc.Select(a => a.ToString("P0", System.Globalization.CultureInfo.InvariantCulture)))} (chance 25%)");
        }
        Assert.Equal(1.0, results["RnnTanh@5"]);
        Assert.True(results["RnnTanh@60"] < 0.5, "the vanilla RNN should not learn a 60-step delay");
        Assert.Equal(1.0, results["Lstm@60"]);
        Assert.Equal(1.0, results["Gru@60"]);
    }
}
