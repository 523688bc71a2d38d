using System;
using System.IO;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Onnx.Export;
using Rnn.MLNet.Onnx.Format;

namespace Rnn.MLNet.Onnx;

public static partial class OnnxExport
{
    /// <summary>
    /// Writes an encoder–decoder as two models, as ONNX exporters of sequence-to-sequence models do (the search loop stays
    /// in the host). Encoder: <see cref="OnnxNames.InputIds"/> int64 [B, Ss] and <see cref="OnnxNames.SequenceLengths"/>
    /// int32 [B] (token sources) or <see cref="OnnxNames.Features"/> float [B, F] (feature sources) → <see cref="OnnxNames.InitialHidden"/>
    /// (and <see cref="OnnxNames.InitialCell"/>) [L, B, K], the decoder's first state; with attention also
    /// <see cref="OnnxNames.Memory"/> and <see cref="OnnxNames.MemoryKeys"/> [B, Ss, K].
    /// Decoder (one step): <see cref="OnnxNames.Token"/> int64 [B] (0, end-of-sequence, at the first step), the state
    /// <see cref="OnnxNames.InitialHidden"/> / <see cref="OnnxNames.InitialCell"/> [L, B, K], with attention the encoder's
    /// memory, keys and <see cref="OnnxNames.SequenceLengths"/>, with features fed every step <see cref="OnnxNames.Features"/>
    /// → <see cref="OnnxNames.Logits"/> and <see cref="OnnxNames.LogProbabilities"/> [B, V], the next state
    /// <see cref="OnnxNames.FinalHidden"/> / <see cref="OnnxNames.FinalCell"/>, with attention <see cref="OnnxNames.Attention"/> [B, Ss].
    /// </summary>
    /// <remarks><paramref name="options"/>: <see cref="OnnxExportOptions.Opset"/> and <see cref="OnnxExportOptions.Metadata"/>
    /// (written into both models) are used; the other settings concern sequence networks.</remarks>
    public static void ExportToOnnx(this EncoderDecoderNetwork<float> network, Stream encoder, Stream decoder, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(decoder);
        options ??= new OnnxExportOptions();
        options.Validate();
        var enc = EncoderGraph(network);
        enc.Graph.Name = "rnn_mlnet_encoder";
        NewModel(enc.Graph, options).WriteTo(encoder);
        var dec = DecoderGraph(network);
        dec.Graph.Name = "rnn_mlnet_decoder_step";
        NewModel(dec.Graph, options).WriteTo(decoder);
    }

    private static GraphBuilder EncoderGraph(EncoderDecoderNetwork<float> network)
    {
        var o = network.Options;
        var p = network.Parameters;
        var g = new GraphBuilder();
        int L = o.Layers, K = o.DecoderHiddenSize, H = o.HiddenSize, D = o.Directions;
        bool lstm = o.Cell.HasCellState();
        if (o.Source == SourceKind.Tokens)
        {
            g.Input(OnnxNames.InputIds, OnnxType.Int64, "batch", "source");
            g.Input(OnnxNames.SequenceLengths, OnnxType.Int32, "batch");
            string ids = g.Transpose(OnnxNames.InputIds, 1, 0);
            string x = g.Op("Gather", new[] { g.Floats("encoder.embedding.weight", p.Read(p["encoder.embedding.weight"]), o.SourceVocabularySize, o.EmbeddingSize), ids });
            var stack = new RecurrentExport.Stack(p, "encoder.rnn.", o.Cell, o.EmbeddingSize, H, L, o.BidirectionalEncoder);
            var rnn = RecurrentExport.Emit(g, stack, x, OnnxNames.SequenceLengths, null, null, "encoder");
            // Decoder layer l starts from [forward final; reverse final] of encoder layer l: [D, B, H] → [1, B, D·H].
            string ToDecoder(string s) => D == 1 ? s : g.Unsqueeze(g.Reshape(g.Transpose(s, 1, 0, 2), 0, -1), 0);
            var hs = Array.ConvertAll(rnn.FinalHidden, ToDecoder);
            RecurrentExport.ConcatStates(g, hs, OnnxNames.InitialHidden);
            g.Output(OnnxNames.InitialHidden, OnnxType.Float, L, "batch", K);
            if (lstm)
            {
                RecurrentExport.ConcatStates(g, Array.ConvertAll(rnn.FinalCell, ToDecoder), OnnxNames.InitialCell);
                g.Output(OnnxNames.InitialCell, OnnxType.Float, L, "batch", K);
            }
            if (o.Attention != AttentionKind.None)
            {
                string memory = g.Transpose(rnn.Top, 1, 0, 2); // [B, Ss, K]; zero past each source's length
                g.Op("Identity", new[] { memory }, OnnxNames.Memory);
                g.Output(OnnxNames.Memory, OnnxType.Float, "batch", "source", K);
                if (o.Attention == AttentionKind.General) // keys = memory · W_aᵀ, so a score h · key_s = hᵀ W_a h̄_s
                    g.Op("MatMul", new[] { memory, g.Floats("attention.weight_t", Transposed(p.Read(p["attention.weight"]), K, K), K, K) }, OnnxNames.MemoryKeys);
                else g.Op("Identity", new[] { memory }, OnnxNames.MemoryKeys);
                g.Output(OnnxNames.MemoryKeys, OnnxType.Float, "batch", "source", K);
            }
        }
        else
        {
            // h0 of layer l = tanh(W f + b)[l·K .. (l+1)·K), c0 = 0
            g.Input(OnnxNames.Features, OnnxType.Float, "batch", o.FeatureSize);
            string z = g.Op("Tanh", new[] { g.Linear(OnnxNames.Features, g.Floats("bridge.weight", p.Read(p["bridge.weight"]), L * K, o.FeatureSize), g.Floats("bridge.bias", p.Read(p["bridge.bias"]), L * K)) });
            string h0 = g.Transpose(g.Reshape(z, 0, L, K), 1, 0, 2, OnnxNames.InitialHidden);
            g.Output(OnnxNames.InitialHidden, OnnxType.Float, L, "batch", K);
            if (lstm)
            {
                g.Op("ConstantOfShape", new[] { g.Op("Shape", new[] { h0 }) }, OnnxNames.InitialCell, OnnxAttribute.Tensor("value", OnnxTensor.FromFloats("", new[] { 0f }, 1)));
                g.Output(OnnxNames.InitialCell, OnnxType.Float, L, "batch", K);
            }
        }
        return g;
    }

    private static GraphBuilder DecoderGraph(EncoderDecoderNetwork<float> network)
    {
        var o = network.Options;
        var p = network.Parameters;
        var g = new GraphBuilder();
        int L = o.Layers, K = o.DecoderHiddenSize, V = o.TargetVocabularySize;
        bool lstm = o.Cell.HasCellState(), attention = o.Attention != AttentionKind.None;
        bool feedFeatures = o.Source == SourceKind.Features && o.FeedFeaturesEveryStep;

        g.Input(OnnxNames.Token, OnnxType.Int64, "batch");
        g.Input(OnnxNames.InitialHidden, OnnxType.Float, L, "batch", K);
        if (lstm) g.Input(OnnxNames.InitialCell, OnnxType.Float, L, "batch", K);
        if (attention)
        {
            g.Input(OnnxNames.Memory, OnnxType.Float, "batch", "source", K);
            g.Input(OnnxNames.MemoryKeys, OnnxType.Float, "batch", "source", K);
            g.Input(OnnxNames.SequenceLengths, OnnxType.Int32, "batch");
        }
        if (feedFeatures) g.Input(OnnxNames.Features, OnnxType.Float, "batch", o.FeatureSize);

        // x [1, B, E (+F)]
        string x = g.Op("Gather", new[] { g.Floats("decoder.embedding.weight", p.Read(p["decoder.embedding.weight"]), V, o.EmbeddingSize), OnnxNames.Token });
        if (feedFeatures) x = g.Concat(new[] { x, OnnxNames.Features }, 1);
        x = g.Unsqueeze(x, 0);
        var stack = new RecurrentExport.Stack(p, "decoder.rnn.", o.Cell, o.DecoderInputSize, K, L, false);
        var rnn = RecurrentExport.Emit(g, stack, x, "", OnnxNames.InitialHidden, lstm ? OnnxNames.InitialCell : null, "decoder");
        RecurrentExport.ConcatStates(g, rnn.FinalHidden, OnnxNames.FinalHidden);
        if (lstm) RecurrentExport.ConcatStates(g, rnn.FinalCell, OnnxNames.FinalCell);
        string h = g.Squeeze(rnn.Top, 0); // [B, K]

        string z = h;
        if (attention)
        {
            // scores e_s = h · key_s over the valid source positions; α = softmax(e); context = Σ α_s memory_s;
            // h̃ = tanh(W_c [context; h] + b_c)
            string scores = g.Squeeze(g.Op("MatMul", new[] { OnnxNames.MemoryKeys, g.Unsqueeze(h, 2) }), 2); // [B, Ss]
            string ss = g.Op("Gather", new[] { g.Op("Shape", new[] { OnnxNames.Memory }), g.Int64s("one", 1) });   // [1]
            string positions = g.Unsqueeze(g.Op("Range", new[] { g.ScalarInt64("zero", 0), g.Squeeze(ss, 0), g.ScalarInt64("step", 1) }), 0); // [1, Ss]
            string lengths = g.Unsqueeze(g.Op("Cast", new[] { OnnxNames.SequenceLengths }, null, OnnxAttribute.Int("to", (long)OnnxType.Int64)), 1); // [B, 1]
            string valid = g.Op("Less", new[] { positions, lengths });
            string masked = g.Op("Where", new[] { valid, scores, g.Scalar("minus_infinity", float.NegativeInfinity) });
            string alpha = g.Op("Softmax", new[] { masked }, OnnxNames.Attention, OnnxAttribute.Int("axis", -1));
            string context = g.Squeeze(g.Op("MatMul", new[] { g.Unsqueeze(alpha, 1), OnnxNames.Memory }), 1); // [B, K]
            string concat = g.Concat(new[] { context, h }, 1);
            z = g.Op("Tanh", new[] { g.Linear(concat, g.Floats("attention.combine.weight", p.Read(p["attention.combine.weight"]), K, 2 * K), g.Floats("attention.combine.bias", p.Read(p["attention.combine.bias"]), K)) });
        }
        string logits = g.Linear(z, g.Floats("head.weight", p.Read(p["head.weight"]), V, K), g.Floats("head.bias", p.Read(p["head.bias"]), V), OnnxNames.Logits);
        g.Op("LogSoftmax", new[] { logits }, OnnxNames.LogProbabilities, OnnxAttribute.Int("axis", -1));
        g.Output(OnnxNames.Logits, OnnxType.Float, "batch", V);
        g.Output(OnnxNames.LogProbabilities, OnnxType.Float, "batch", V);
        g.Output(OnnxNames.FinalHidden, OnnxType.Float, L, "batch", K);
        if (lstm) g.Output(OnnxNames.FinalCell, OnnxType.Float, L, "batch", K);
        if (attention) g.Output(OnnxNames.Attention, OnnxType.Float, "batch", "source");
        return g;
    }
}
