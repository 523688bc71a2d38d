using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Onnx.Export;
using Rnn.MLNet.Onnx.Format;

namespace Rnn.MLNet.Onnx;

/// <summary>A network read from an ONNX file.</summary>
public sealed class OnnxImportResult
{
    internal OnnxImportResult(SequenceNetwork<float> network, OnnxOutputActivation activation, IReadOnlyDictionary<string, string> metadata)
    {
        Network = network; Activation = activation; Metadata = metadata;
    }

    /// <summary>The network, with the file's weights (score it, wrap it in a model, or train it further).</summary>
    public SequenceNetwork<float> Network { get; }

    /// <summary>The sigmoid or softmax the graph applied after the linear head (the network itself returns the head's output).</summary>
    public OnnxOutputActivation Activation { get; }

    /// <summary>The file's metadata_props.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}

/// <summary>
/// Reads embedding (or one-hot, or dense input) → stacked LSTM / GRU / RNN → linear networks from ONNX files, as
/// torch.onnx.export writes them for nn.Embedding → nn.LSTM / nn.GRU / nn.RNN → nn.Linear modules (and as this library
/// exports them), into a <see cref="SequenceNetwork{T}"/>.
/// </summary>
public static class OnnxImport
{
    /// <summary>The operators a readable graph may contain.</summary>
    public static IReadOnlyList<string> SupportedOperators { get; } = new[]
    {
        "LSTM", "GRU", "RNN", "Gather", "OneHot", "Gemm", "MatMul", "Add", "Sub", "Div", "Mul", "Sigmoid", "Softmax", "LogSoftmax",
        "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Concat", "Slice", "Shape", "Constant", "ConstantOfShape", "Expand", "Cast", "Identity",
    };

    /// <summary>Reads a network from an ONNX file.</summary>
    public static OnnxImportResult ReadSequenceNetwork(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var f = File.OpenRead(path);
            return ReadSequenceNetwork(f);
        }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        catch (NotSupportedException e) { throw new NotSupportedException($"{path}: {e.Message}", e); }
    }

    /// <summary>
    /// Reads a network from an ONNX model. Throws <see cref="InvalidDataException"/> for data that is not a well-formed
    /// ONNX model and <see cref="NotSupportedException"/>, naming the node, for a graph outside what this importer reads.
    /// </summary>
    public static OnnxImportResult ReadSequenceNetwork(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        var model = OnnxModel.Parse(ms.GetBuffer().AsSpan(0, (int)ms.Length));
        return new Reader(model).Read();
    }

    private sealed class Reader
    {
        private readonly OnnxModel _model;
        private readonly OnnxGraph _g;
        private readonly Dictionary<string, OnnxTensor> _constants = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (OnnxNode Node, int Index)> _producer = new(StringComparer.Ordinal);
        private readonly HashSet<string> _graphInputs;

        public Reader(OnnxModel model)
        {
            _model = model; _g = model.Graph;
            foreach (var t in _g.Initializers) _constants[t.Name] = t;
            foreach (var n in _g.Nodes)
            {
                for (int i = 0; i < n.Outputs.Count; i++) _producer[n.Outputs[i]] = (n, i);
                if (n.OpType == "Constant" && n.Outputs.Count == 1)
                {
                    var value = n.Attribute("value")?.T ?? throw Unsupported(n, "a Constant node needs a tensor 'value' attribute");
                    _constants[n.Outputs[0]] = value;
                }
            }
            _graphInputs = _g.Inputs.Select(i => i.Name).Where(n => !_constants.ContainsKey(n)).ToHashSet(StringComparer.Ordinal);
        }

        private static NotSupportedException Unsupported(OnnxNode node, string what) =>
            new($"{node.Describe()}: {what}. This importer reads embedding → stacked LSTM/GRU/RNN → linear graphs.");

        public OnnxImportResult Read()
        {
            long opset = _model.DefaultOpset;
            if (opset < 7) throw new NotSupportedException($"The model imports ONNX opset {opset}; supported: 7 and later.");
            foreach (var n in _g.Nodes)
            {
                if (n.Domain.Length > 0 && n.Domain != "ai.onnx")
                    throw Unsupported(n, $"operators of domain '{n.Domain}' are not supported; supported: the default ONNX domain");
                if (!SupportedOperators.Contains(n.OpType))
                    throw Unsupported(n, $"operator {n.OpType} is not supported; supported: {string.Join(", ", SupportedOperators)}");
            }
            var recurrent = _g.Nodes.Where(n => n.OpType is "LSTM" or "GRU" or "RNN").ToList();
            if (recurrent.Count == 0) throw new NotSupportedException("The graph has no LSTM, GRU or RNN node.");
            if (recurrent.Count > NetworkOptions.MaxLayers) throw new NotSupportedException($"The graph has {recurrent.Count} recurrent layers; at most {NetworkOptions.MaxLayers} are supported.");
            if (_g.Outputs.Count == 0) throw new NotSupportedException("The graph has no output.");

            // Cell, hidden size and directions, the same for every layer.
            var first = recurrent[0];
            var cell = CellOf(first);
            int H = checked((int)(first.Attribute("hidden_size")?.I ?? throw Unsupported(first, "the hidden_size attribute is missing")));
            string direction = first.Attribute("direction")?.S ?? "forward";
            if (direction is not ("forward" or "bidirectional")) throw Unsupported(first, $"direction '{direction}' is not supported; supported: forward, bidirectional");
            int D = direction == "bidirectional" ? 2 : 1;
            foreach (var n in recurrent)
            {
                if (n.OpType != first.OpType || CellOf(n) != cell) throw Unsupported(n, $"every layer must use the same cell as {first.Describe()}");
                if ((n.Attribute("hidden_size")?.I ?? -1) != H) throw Unsupported(n, $"every layer must have hidden_size {H}");
                if ((n.Attribute("direction")?.S ?? "forward") != direction) throw Unsupported(n, $"every layer must have direction '{direction}'");
                CheckZeroState(n, 5);
                if (cell == CellType.Lstm) CheckZeroState(n, 6);
                if (n.Input(4).Length > 0 && !_graphInputs.Contains(n.Input(4))) throw Unsupported(n, "sequence_lens must be absent or a graph input");
            }
            // The layers form a chain: each reads the previous one's Y.
            for (int l = 1; l < recurrent.Count; l++)
                if (!Reaches(recurrent[l].Input(0), recurrent[l - 1], 0))
                    throw Unsupported(recurrent[l], $"its input X must be computed from the output Y of {recurrent[l - 1].Describe()} (stacked layers)");

            // Input stage.
            var input = InputStage(recurrent[0], out int vocabulary, out int featureSize, out float[]? embedding);
            int inputSize = InputSize(recurrent[0]);

            // Head: a Gemm, or a MatMul followed by Add, whose weight is a constant and whose data comes from the last layer.
            var last = recurrent[^1];
            var (headNode, w, bias, outputs, readsFinalState, headOut) = Head(last, D * H);
            var output = OutputModeOf(headNode, last, D, readsFinalState);
            var activation = ActivationAfter(headOut);

            var options = new NetworkOptions
            {
                Cell = cell, Input = input, VocabularySize = vocabulary, EmbeddingSize = input == InputKind.Embedding ? inputSize : 64,
                FeatureSize = featureSize, HiddenSize = H, Layers = recurrent.Count, Bidirectional = D == 2, OutputSize = outputs, Output = output,
            };
            var net = new SequenceNetwork<float>(options);
            var p = net.Parameters;
            if (embedding is not null) embedding.CopyTo(p.Value("embedding.weight"));
            int G = cell.GateCount();
            for (int l = 0; l < recurrent.Count; l++)
            {
                var node = recurrent[l];
                int inSize = l == 0 ? inputSize : D * H;
                var W = Weight(node, 1, D, G * H, inSize);
                var R = Weight(node, 2, D, G * H, H);
                var B = node.Input(3).Length == 0 ? new float[D * 2 * G * H] : Weight(node, 3, D, 2 * G * H);
                for (int d = 0; d < D; d++)
                {
                    string suffix = $"l{l}" + (d == 1 ? "_reverse" : "");
                    RecurrentExport.ReorderBack(cell, H, inSize, W.AsSpan(d * G * H * inSize, G * H * inSize), p.Value("rnn.weight_ih_" + suffix));
                    RecurrentExport.ReorderBack(cell, H, H, R.AsSpan(d * G * H * H, G * H * H), p.Value("rnn.weight_hh_" + suffix));
                    RecurrentExport.ReorderBack(cell, H, 1, B.AsSpan(d * 2 * G * H, G * H), p.Value("rnn.bias_ih_" + suffix));
                    RecurrentExport.ReorderBack(cell, H, 1, B.AsSpan(d * 2 * G * H + G * H, G * H), p.Value("rnn.bias_hh_" + suffix));
                }
            }
            w.CopyTo(p.Value("head.weight"));
            bias.CopyTo(p.Value("head.bias"));
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in _model.Metadata) metadata[kv.Key] = kv.Value;
            return new OnnxImportResult(net, activation, metadata);
        }

        private static CellType CellOf(OnnxNode n)
        {
            switch (n.OpType)
            {
                case "LSTM":
                    if (n.Input(7).Length > 0) throw Unsupported(n, "peephole weights (input P) are not supported; PyTorch's LSTM has none");
                    if ((n.Attribute("input_forget")?.I ?? 0) != 0) throw Unsupported(n, "input_forget = 1 is not supported; supported: 0");
                    CheckActivations(n, "Sigmoid", "Tanh", "Tanh");
                    return CellType.Lstm;
                case "GRU":
                    if ((n.Attribute("linear_before_reset")?.I ?? 0) != 1)
                        throw Unsupported(n, "linear_before_reset = 0 is not supported; supported: 1 (PyTorch's GRU, r applied after W_hn·h + b_hn)");
                    CheckActivations(n, "Sigmoid", "Tanh");
                    return CellType.Gru;
                default:
                    var acts = n.Attribute("activations")?.Strings ?? new List<string> { "Tanh" };
                    if (acts.Count == 0 || acts.Any(a => a != acts[0]) || acts[0] is not ("Tanh" or "Relu"))
                        throw Unsupported(n, $"activations [{string.Join(", ", acts)}] are not supported; supported: Tanh or Relu (the same in both directions)");
                    if (n.Attribute("clip") is not null) throw Unsupported(n, "the clip attribute is not supported");
                    return acts[0] == "Relu" ? CellType.RnnRelu : CellType.RnnTanh;
            }
        }

        private static void CheckActivations(OnnxNode n, params string[] defaults)
        {
            if (n.Attribute("clip") is not null) throw Unsupported(n, "the clip attribute is not supported");
            var acts = n.Attribute("activations")?.Strings;
            if (acts is null) return;
            for (int i = 0; i < acts.Count; i++)
                if (acts[i] != defaults[i % defaults.Length])
                    throw Unsupported(n, $"activations [{string.Join(", ", acts)}] are not supported; supported: the defaults [{string.Join(", ", defaults)}]");
        }

        /// <summary>An initial state must be absent, or computed from constants that are zero (torch.onnx.export's zeros).</summary>
        private void CheckZeroState(OnnxNode n, int index)
        {
            string v = n.Input(index);
            if (v.Length == 0) return;
            foreach (var name in Ancestors(v, stopAtShape: true))
            {
                if (_constants.TryGetValue(name, out var t))
                {
                    if (t.DataType == OnnxType.Float && t.ToFloats().Any(x => x != 0))
                        throw Unsupported(n, $"initial state input {index} comes from the non-zero constant '{name}'; supported: zero initial states");
                }
                else if (_graphInputs.Contains(name) && !(index == 5 && name == OnnxNames.InitialHidden) && !(index == 6 && name == OnnxNames.InitialCell))
                    throw Unsupported(n, $"initial state input {index} depends on the graph input '{name}'; supported: zero initial states");
                if (_producer.TryGetValue(name, out var prod) && prod.Node.OpType == "ConstantOfShape")
                {
                    var value = prod.Node.Attribute("value")?.T;
                    if (value is not null && value.DataType == OnnxType.Float && value.ToFloats().Any(x => x != 0))
                        throw Unsupported(prod.Node, "initial states must be zero");
                }
            }
        }

        /// <summary>Every value <paramref name="value"/> is computed from (itself included); Shape nodes' inputs are not followed.</summary>
        private HashSet<string> Ancestors(string value, bool stopAtShape)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var stack = new Stack<string>();
            stack.Push(value);
            while (stack.Count > 0)
            {
                string v = stack.Pop();
                if (v.Length == 0 || !seen.Add(v)) continue;
                if (!_producer.TryGetValue(v, out var p)) continue;
                if (stopAtShape && p.Node.OpType == "Shape") continue;
                foreach (var i in p.Node.Inputs) stack.Push(i);
            }
            return seen;
        }

        /// <summary>True if <paramref name="value"/> is computed from output <paramref name="index"/> of <paramref name="node"/>.</summary>
        private bool Reaches(string value, OnnxNode node, int index) =>
            index < node.Outputs.Count && Ancestors(value, stopAtShape: true).Contains(node.Outputs[index]);

        private InputKind InputStage(OnnxNode firstLayer, out int vocabulary, out int featureSize, out float[]? embedding)
        {
            vocabulary = 0; featureSize = 0; embedding = null;
            var ancestors = Ancestors(firstLayer.Input(0), stopAtShape: true);
            var gathers = _g.Nodes.Where(n => n.OpType == "Gather" && ancestors.Contains(n.Outputs[0]) && _constants.ContainsKey(n.Input(0))
                                              && _constants[n.Input(0)].Dims.Length == 2 && _constants[n.Input(0)].DataType == OnnxType.Float).ToList();
            var oneHot = _g.Nodes.FirstOrDefault(n => n.OpType == "OneHot" && ancestors.Contains(n.Outputs[0]));
            var inputs = _g.Inputs.Where(i => _graphInputs.Contains(i.Name) && ancestors.Contains(i.Name)).ToList();
            if (inputs.Count != 1) throw Unsupported(firstLayer, $"its input must come from one graph input; it comes from {inputs.Count}");
            var input = inputs[0];
            if (gathers.Count == 1)
            {
                var table = _constants[gathers[0].Input(0)];
                vocabulary = checked((int)table.Dims[0]);
                embedding = table.ToFloats();
                return InputKind.Embedding;
            }
            if (gathers.Count > 1) throw Unsupported(gathers[1], "more than one embedding lookup feeds the first layer");
            if (oneHot is not null)
            {
                vocabulary = checked((int)(_constants.TryGetValue(oneHot.Input(1), out var depth) ? depth.ToInt64s()[0] : throw Unsupported(oneHot, "the depth must be a constant")));
                return InputKind.OneHot;
            }
            if (input.ElementType != OnnxType.Float) throw Unsupported(firstLayer, $"the graph input '{input.Name}' holds {input.ElementType}; a dense input must be float");
            featureSize = InputSize(firstLayer);
            if (_g.Nodes.Any(n => n.OpType is "Sub" or "Div" && ancestors.Contains(n.Outputs[0])))
                throw Unsupported(firstLayer, "input scaling (Sub/Div) before the first layer is not imported; scale the inputs before scoring");
            return InputKind.Dense;
        }

        private int InputSize(OnnxNode layer)
        {
            var w = Constant(layer, 1);
            if (w.Dims.Length != 3) throw Unsupported(layer, $"W has shape [{string.Join(", ", w.Dims)}]; expected [directions, gates·hidden, input]");
            return checked((int)w.Dims[2]);
        }

        private OnnxTensor Constant(OnnxNode node, int input)
        {
            string name = node.Input(input);
            if (!_constants.TryGetValue(name, out var t)) throw Unsupported(node, $"input {input} ('{name}') must be a constant (an initializer)");
            return t;
        }

        private float[] Weight(OnnxNode node, int input, params long[] shape)
        {
            var t = Constant(node, input);
            if (!t.Dims.SequenceEqual(shape))
                throw Unsupported(node, $"input {input} ('{node.Input(input)}') has shape [{string.Join(", ", t.Dims)}]; expected [{string.Join(", ", shape)}]");
            return t.ToFloats();
        }

        private (OnnxNode Node, float[] W, float[] B, int Outputs, bool ReadsFinalState, string Output) Head(OnnxNode last, int width)
        {
            foreach (var n in _g.Nodes)
            {
                if (n.OpType == "Gemm" && n.Inputs.Count >= 2 && _constants.ContainsKey(n.Input(1)) && (Reaches(n.Input(0), last, 0) || Reaches(n.Input(0), last, 1)))
                {
                    if ((n.Attribute("transA")?.I ?? 0) != 0) throw Unsupported(n, "transA = 1 is not supported");
                    if ((n.Attribute("alpha")?.F ?? 1f) != 1f || (n.Attribute("beta")?.F ?? 1f) != 1f) throw Unsupported(n, "alpha and beta must be 1");
                    var t = _constants[n.Input(1)];
                    bool transB = (n.Attribute("transB")?.I ?? 0) != 0;
                    if (t.Dims.Length != 2 || t.Dims[transB ? 1 : 0] != width)
                        throw Unsupported(n, $"the head weight has shape [{string.Join(", ", t.Dims)}]; expected {(transB ? "[outputs, " + width + "]" : "[" + width + ", outputs]")}");
                    int o = checked((int)t.Dims[transB ? 0 : 1]);
                    var w = transB ? t.ToFloats() : OnnxExport.Transposed(t.ToFloats(), width, o);
                    var b = n.Input(2).Length == 0 ? new float[o] : Bias(n, n.Input(2), o);
                    return (n, w, b, o, Reaches(n.Input(0), last, 1), n.Outputs[0]);
                }
                if (n.OpType == "MatMul")
                {
                    int wi = _constants.ContainsKey(n.Input(1)) ? 1 : _constants.ContainsKey(n.Input(0)) ? 0 : -1;
                    if (wi < 0 || !(Reaches(n.Input(1 - wi), last, 0) || Reaches(n.Input(1 - wi), last, 1))) continue;
                    if (wi == 0) throw Unsupported(n, "the head must multiply the activations by the weight (x · W), not W · x");
                    var t = _constants[n.Input(1)];
                    if (t.Dims.Length != 2 || t.Dims[0] != width) throw Unsupported(n, $"the head weight has shape [{string.Join(", ", t.Dims)}]; expected [{width}, outputs]");
                    int o = checked((int)t.Dims[1]);
                    var w = OnnxExport.Transposed(t.ToFloats(), width, o);
                    var add = _g.Nodes.FirstOrDefault(a => a.OpType == "Add" && a.Inputs.Contains(n.Outputs[0]));
                    float[] b = new float[o];
                    string outName = n.Outputs[0];
                    if (add is not null)
                    {
                        string other = add.Input(0) == n.Outputs[0] ? add.Input(1) : add.Input(0);
                        b = Bias(add, other, o);
                        outName = add.Outputs[0];
                    }
                    return (n, w, b, o, Reaches(n.Input(0), last, 1), outName);
                }
            }
            throw new NotSupportedException($"No linear head (Gemm, or MatMul with a constant weight) reads the output of {last.Describe()}.");
        }

        private float[] Bias(OnnxNode node, string name, int o)
        {
            if (!_constants.TryGetValue(name, out var t) || t.ElementCount != o) throw Unsupported(node, $"the head bias '{name}' must be a constant of {o} values");
            return t.ToFloats();
        }

        /// <summary>
        /// Per step when the head reads Y and the graph output keeps the sequence axis; last step when it reads the final
        /// states Y_h of the top layer (both directions, forward first), or Y at the last position of a unidirectional stack.
        /// </summary>
        private OutputMode OutputModeOf(OnnxNode head, OnnxNode last, int D, bool readsFinalState)
        {
            var declared = _model.Metadata.FirstOrDefault(kv => kv.Key == "rnn_mlnet.output").Value;
            if (_model.ProducerName == OnnxExport.ProducerName && Enum.TryParse<OutputMode>(declared, out var mode)) return mode;
            var ancestors = Ancestors(head.Input(0), stopAtShape: true);
            if (readsFinalState)
            {
                CheckTopLayerStates(head, last, D, ancestors);
                return OutputMode.LastStep;
            }
            // Y [S, D, B, H]: a Gather or Slice at position −1 along the sequence axis marks out[:, −1, :].
            bool lastPosition = _g.Nodes.Any(n => ancestors.Contains(n.Outputs[0]) && ((n.OpType == "Gather" && _constants.TryGetValue(n.Input(1), out var i) && i.ElementCount == 1 && i.ToInt64s()[0] == -1)
                || (n.OpType == "Slice" && _constants.TryGetValue(n.Input(1), out var s) && s.ElementCount == 1 && s.ToInt64s()[0] == -1)));
            if (!lastPosition) return OutputMode.PerStep;
            if (D == 2) throw Unsupported(head, "the head reads out[:, -1, :] of a bidirectional layer, whose reverse half has seen one step; supported: the final states h_n (torch.cat([h_n[-2], h_n[-1]], 1)) or every step");
            return OutputMode.LastStep;
        }

        /// <summary>The head must read the top layer's final states: [h_n[-2], h_n[-1]] (bidirectional) or h_n[-1].</summary>
        private void CheckTopLayerStates(OnnxNode head, OnnxNode last, int D, HashSet<string> ancestors)
        {
            var layers = _g.Nodes.Where(n => n.OpType is "LSTM" or "GRU" or "RNN").ToList();
            int states = layers.Count * D;
            var picks = new List<long>();
            foreach (var n in _g.Nodes.Where(n => n.OpType == "Gather" && ancestors.Contains(n.Outputs[0])))
            {
                if (!_constants.TryGetValue(n.Input(1), out var idx) || idx.ElementCount != 1) continue;
                long i = idx.ToInt64s()[0];
                bool fromAll = _producer.TryGetValue(n.Input(0), out var p) && p.Node.OpType == "Concat" && p.Node.Inputs.All(x => layers.Any(l => l.Outputs.Count > 1 && l.Outputs[1] == x));
                bool fromLast = last.Outputs[1] == n.Input(0);
                if (!fromAll && !fromLast) continue;
                int count = fromAll ? states : D;
                i = ((i % count) + count) % count;
                picks.Add(fromAll ? i - (states - D) : i);
            }
            if (picks.Count == 0) return; // the whole Y_h of the last layer ([D, B, H] reshaped), as this library exports it
            var expected = Enumerable.Range(0, D).Select(d => (long)d).ToList();
            if (!picks.SequenceEqual(expected))
                throw Unsupported(head, $"the head reads final states {string.Join(", ", picks)} of the top layer; supported: all of its directions in order (forward, then reverse)");
        }

        private OnnxOutputActivation ActivationAfter(string headOut)
        {
            foreach (var n in _g.Nodes.Where(n => n.Inputs.Contains(headOut)))
            {
                if (n.OpType == "Sigmoid") return OnnxOutputActivation.Sigmoid;
                if (n.OpType == "Softmax") return OnnxOutputActivation.Softmax;
            }
            return OnnxOutputActivation.None;
        }
    }
}
