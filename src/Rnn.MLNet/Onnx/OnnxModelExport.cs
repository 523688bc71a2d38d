using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.Onnx;
using Rnn.MLNet.SequenceRegression;
using Rnn.MLNet.SequenceToSequence;
using Rnn.MLNet.Tagging;
using Rnn.MLNet.Text;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet;

/// <summary>
/// ONNX export of every trained model, from a fitted transformer's model or one got back from a loaded .zip
/// (<c>TextClassifierModel.FromTransformer(loaded).ExportToOnnx(stream)</c>). Tokenization stays outside the graph: the
/// vocabulary and tokenizer settings go into the model's metadata_props (keys <c>rnn_mlnet.*</c>) and, when a sidecar
/// stream is given, into a JSON file with the same content (see docs/onnx.md for the few lines that turn text into ids).
/// </summary>
public static class OnnxModelExport
{
    // Each export works on a copy of the caller's options (the model decides the activation, output name, scaling and
    // metadata), so the caller's object is never changed.
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    /// <summary>
    /// A text classifier: <c>input_ids</c> int64 [batch, sequence], <c>sequence_lengths</c> int32 [batch] →
    /// <c>logits</c> and <c>probabilities</c> [batch, 1] (binary: sigmoid) or [batch, classes] (softmax).
    /// </summary>
    public static void ExportToOnnx(this TextClassifierModel model, Stream onnx, Stream? sidecar = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Networks.Count > 1 || model.Bag is not null)
            throw new NotSupportedException($"ONNX export covers one recurrent network; this classifier has {model.Networks.Count} ensemble members{(model.Bag is null ? "" : " and an n-gram linear part")}. " +
                "Train with EnsembleSize = 1, WordNGrams = 0 and CharNGrams = 0 to export it.");
        options = options?.Clone() ?? new OnnxExportOptions();
        options.Activation = model.IsBinary ? OnnxOutputActivation.Sigmoid : OnnxOutputActivation.Softmax;
        var info = Tokenization("text-classifier", model.Vocabulary, model.LowerCase, model.MaxLength);
        info["binary"] = model.IsBinary;
        info["labels"] = model.Classes.ToArray();
        Write(model.Network, onnx, sidecar, options, info);
    }

    /// <summary>A sequence tagger: <c>input_ids</c>, <c>sequence_lengths</c> → <c>logits</c> and <c>probabilities</c> [batch, sequence, tags].</summary>
    public static void ExportToOnnx(this SequenceTaggerModel model, Stream onnx, Stream? sidecar = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options = options?.Clone() ?? new OnnxExportOptions();
        options.Activation = OnnxOutputActivation.Softmax;
        var info = Tokenization("sequence-tagger", model.Vocabulary, model.LowerCase, 0);
        info["labels"] = model.Tags.ToArray();
        Write(model.Network, onnx, sidecar, options, info);
    }

    /// <summary>
    /// A language model: <c>input_ids</c>, <c>initial_h</c> (and <c>initial_c</c>) [layers, batch, hidden] →
    /// <c>logits</c> and <c>probabilities</c> [batch, sequence, vocabulary], <c>final_h</c> (and <c>final_c</c>): feed the
    /// final state back with the next token(s) for streaming generation; zeros start a text.
    /// </summary>
    public static void ExportToOnnx(this RnnLanguageModel model, Stream onnx, Stream? sidecar = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options = options?.Clone() ?? new OnnxExportOptions { SequenceLengthsInput = false };
        options.Activation = OnnxOutputActivation.Softmax;
        options.StateInputsAndOutputs = true;
        var info = Tokenization("language-model", model.Vocabulary, model.LowerCase, 0);
        info["separator"] = model.Separator;
        Write(model.Network, onnx, sidecar, options, info);
    }

    /// <summary>
    /// A sequence regressor (forecaster): <c>features</c> float [batch, sequence, features] in the original units (the
    /// standardization learned at Fit is inside the graph), <c>sequence_lengths</c> → <c>score</c> [batch, 1] in the target's units.
    /// </summary>
    public static void ExportToOnnx(this SequenceRegressionModel model, Stream onnx, Stream? sidecar = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options = options?.Clone() ?? new OnnxExportOptions();
        options.OutputName = "score";
        options.FeatureMean = model.FeatureMean;
        options.FeatureStd = model.FeatureStd;
        options.OutputScale = model.LabelStd;
        options.OutputShift = model.LabelMean;
        var info = new Dictionary<string, object> { ["kind"] = "sequence-regressor", ["features_per_step"] = model.FeaturesPerStep };
        Write(model.Network, onnx, sidecar, options, info);
    }

    /// <summary>
    /// A sequence generator (sequence-to-sequence or vector-to-sequence) as an encoder graph and a one-step decoder graph
    /// (see <see cref="OnnxExport.ExportToOnnx(Rnn.MLNet.Models.EncoderDecoderNetwork{float}, Stream, Stream, OnnxExportOptions?)"/>);
    /// the greedy or beam search loop runs in the host, starting from token 0 (end of sequence) and stopping at it.
    /// </summary>
    public static void ExportToOnnx(this SequenceGeneratorModel model, Stream encoder, Stream decoder, Stream? sidecar = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Networks.Count > 1)
            throw new NotSupportedException($"ONNX export covers one encoder-decoder; this model is an ensemble of {model.Networks.Count}. Train it with EnsembleSize = 1 to export it.");
        options = options?.Clone() ?? new OnnxExportOptions();
        var info = new Dictionary<string, object>
        {
            ["kind"] = "sequence-generator", ["lowercase"] = model.LowerCase, ["max_source_length"] = model.MaxSourceLength,
            ["target_tokenizer"] = model.TargetVocabulary.Tokenizer.Kind.ToString(), ["target_vocabulary"] = model.TargetVocabulary.Tokens.ToArray(),
            ["end_of_sequence_id"] = 0, ["beam_width"] = model.Decoding.BeamWidth, ["max_length"] = model.Decoding.MaxLength,
        };
        if (model.SourceVocabulary is { } src)
        {
            info["source_tokenizer"] = src.Tokenizer.Kind.ToString();
            info["source_vocabulary"] = src.Tokens.ToArray();
            info["source_unknown_id"] = src.UnknownId;
        }
        AddTo(options, info);
        model.Network.ExportToOnnx(encoder, decoder, options);
        WriteSidecar(sidecar, info);
    }

    private static Dictionary<string, object> Tokenization(string kind, Vocabulary vocabulary, bool lowerCase, int maxLength)
    {
        var info = new Dictionary<string, object>
        {
            ["kind"] = kind, ["tokenizer"] = vocabulary.Tokenizer.Kind.ToString(), ["lowercase"] = lowerCase,
            ["unknown_id"] = vocabulary.UnknownId, ["vocabulary"] = vocabulary.Tokens.ToArray(),
        };
        if (vocabulary.Tokenizer.Kind == TokenizerKind.Word) info["token_pattern"] = WordTokenizer.Pattern;
        if (maxLength > 0) info["max_length"] = maxLength;
        return info;
    }

    private static void Write(Rnn.MLNet.Models.SequenceNetwork<float> network, Stream onnx, Stream? sidecar, OnnxExportOptions options, Dictionary<string, object> info)
    {
        AddTo(options, info);
        network.ExportToOnnx(onnx, options);
        WriteSidecar(sidecar, info);
    }

    /// <summary>Each entry as metadata_props "rnn_mlnet.KEY" = its JSON text (strings unquoted).</summary>
    private static void AddTo(OnnxExportOptions options, Dictionary<string, object> info)
    {
        foreach (var (key, value) in info)
            options.Metadata["rnn_mlnet." + key] = value is string s ? s : JsonSerializer.Serialize(value);
    }

    private static void WriteSidecar(Stream? sidecar, Dictionary<string, object> info)
    {
        if (sidecar is null) return;
        var doc = new SortedDictionary<string, object>(info, StringComparer.Ordinal) { ["format"] = "rnn-mlnet-onnx-tokenization/1" };
        JsonSerializer.Serialize(sidecar, doc, s_indented);
    }
}
