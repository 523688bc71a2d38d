// Trains three small models one after the other (a classifier with dropout, validation, a plateau schedule and early
// stopping; a language model on a token stream; an encoder-decoder), checkpointing after every batch when given a
// checkpoint folder, and writes all final weights to the output file.
//   dotnet Rnn.MLNet.CheckpointChild.dll <checkpoint folder | -> <output file>
// It prints "training" once the first batch of this process is done, so a test knows a kill lands during training.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Data;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;

string? folder = args[0] == "-" ? null : args[0];
string output = args[1];
bool announced = false;
void Announce(int epoch, int batch, int batches, double loss)
{
    if (announced) return;
    announced = true;
    Console.Out.WriteLine("training");
    Console.Out.Flush();
}
FitOptions Options(string name, int epochs, int batch) => new()
{
    Epochs = epochs, BatchSize = batch, Seed = 7, BatchProgress = Announce,
    CheckpointPath = folder is null ? null : Path.Combine(folder, name + ".ckpt"), CheckpointInterval = TimeSpan.Zero,
};

var weights = new List<float>();

// 1. Classifier: is token 1 more frequent than token 2 in the sequence?
var data = new Rng(11);
List<LabeledSequence> Examples(int n) => Enumerable.Range(0, n).Select(_ =>
{
    var t = new int[3 + data.NextInt(10)];
    for (int i = 0; i < t.Length; i++) t[i] = 1 + data.NextInt(19);
    return new LabeledSequence { Tokens = t, Class = t.Count(x => x == 1) > t.Count(x => x == 2) ? 1 : 0 };
}).ToList();
var train = Examples(600);
var valid = Examples(100);
var classifier = new SequenceNetwork<float>(new NetworkOptions
{
    Cell = CellType.Lstm, Input = InputKind.Embedding, VocabularySize = 20, EmbeddingSize = 8, HiddenSize = 16, Layers = 2,
    Dropout = 0.2f, OutputSize = 2, Output = OutputMode.LastStep,
});
Initializer.Initialize(classifier, InitScheme.PyTorchDefault, 3);
var o1 = Options("classifier", 4, 16);
o1.Schedule = new ReduceOnPlateauSchedule(0.5, patience: 0);
o1.EarlyStoppingPatience = 2;
SequenceFitter.Fit(classifier, LossKind.SoftmaxCrossEntropy, train, valid, o1);
weights.AddRange(classifier.Parameters.Values);

// 2. Language model on a stream with dropout and momentum SGD.
var stream = new int[6000];
for (int i = 0; i < stream.Length; i++) stream[i] = i % 7 == 0 ? 0 : (stream[i - 1] * 3 + data.NextInt(3)) % 30;
var lm = new SequenceNetwork<float>(new NetworkOptions
{
    Cell = CellType.Gru, Input = InputKind.Embedding, VocabularySize = 30, EmbeddingSize = 8, HiddenSize = 24, Layers = 2,
    Dropout = 0.1f, OutputSize = 30, Output = OutputMode.PerStep,
});
Initializer.Initialize(lm, InitScheme.PyTorchDefault, 4);
var o2 = Options("stream", 2, 8);
o2.BpttSteps = 10; o2.Optimizer = OptimizerKind.SgdMomentum; o2.LearningRate = 0.05; o2.Schedule = new StepDecaySchedule(1, 0.5);
SequenceFitter.FitStream(lm, stream, stream.AsSpan(0, 500).ToArray(), o2);
weights.AddRange(lm.Parameters.Values);

// 3. Encoder-decoder: spelled numbers to digits.
var (pairsText, _) = SyntheticTasks.SpelledNumbers(400, 200, 5);
var srcWords = pairsText.SelectMany(p => p.Source.Split(' ')).Distinct().ToList();
var pairs = pairsText.Select(p => new SequencePair
{
    Source = p.Source.Split(' ').Select(w => srcWords.IndexOf(w) + 1).ToArray(),
    Target = p.Target.Select(c => c - '0' + 1).ToArray(),
}).ToList();
var seq2seq = new EncoderDecoderNetwork<float>(new EncoderDecoderOptions
{
    Cell = CellType.Lstm, Source = SourceKind.Tokens, SourceVocabularySize = srcWords.Count + 1, TargetVocabularySize = 11,
    EmbeddingSize = 8, HiddenSize = 16, Layers = 1, Attention = AttentionKind.Dot, Dropout = 0.1f,
});
Initializer.Initialize(seq2seq.Parameters, InitScheme.PyTorchDefault, 5);
EncoderDecoderFitter.Fit(seq2seq, pairs, pairs.Take(40).ToList(), Options("seq2seq", 2, 16));
weights.AddRange(seq2seq.Parameters.Values);

File.WriteAllBytes(output, MemoryMarshal.AsBytes(weights.ToArray().AsSpan()).ToArray());
Console.Out.WriteLine($"done {weights.Count} weights");
return 0;
