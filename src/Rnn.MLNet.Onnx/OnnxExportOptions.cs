using System;
using System.Collections.Generic;

namespace Rnn.MLNet.Onnx;

/// <summary>What the exported graph applies to the linear head's output.</summary>
public enum OnnxOutputActivation
{
    /// <summary>Only the head's output (logits or regression values).</summary>
    None,

    /// <summary>Adds a <c>probabilities</c> output: the sigmoid of the logits (binary classifiers).</summary>
    Sigmoid,

    /// <summary>Adds a <c>probabilities</c> output: the softmax over the last axis (multiclass, taggers, language models).</summary>
    Softmax,
}

/// <summary>The names of the exported graphs' inputs and outputs.</summary>
public static class OnnxNames
{
    /// <summary>Token ids, int64 [batch, sequence] (batch-first).</summary>
    public const string InputIds = "input_ids";

    /// <summary>Dense inputs, float [batch, sequence, features] (sequence networks) or [batch, features] (vector-to-sequence encoders).</summary>
    public const string Features = "features";

    /// <summary>Valid steps of each sequence, int32 [batch] (the ONNX recurrent operators' <c>sequence_lens</c>).</summary>
    public const string SequenceLengths = "sequence_lengths";

    /// <summary>Initial hidden state, float [layers·directions, batch, hidden].</summary>
    public const string InitialHidden = "initial_h";

    /// <summary>Initial cell state (LSTM), float [layers·directions, batch, hidden].</summary>
    public const string InitialCell = "initial_c";

    /// <summary>Final hidden state after the last valid step, float [layers·directions, batch, hidden].</summary>
    public const string FinalHidden = "final_h";

    /// <summary>Final cell state (LSTM).</summary>
    public const string FinalCell = "final_c";

    /// <summary>The linear head's output: [batch, outputs] (last step) or [batch, sequence, outputs] (every step).</summary>
    public const string Logits = "logits";

    /// <summary>Sigmoid or softmax of <see cref="Logits"/>.</summary>
    public const string Probabilities = "probabilities";

    /// <summary>Encoder graph: the encoder's outputs, float [batch, source, hidden] (attention's values).</summary>
    public const string Memory = "memory";

    /// <summary>Encoder graph: attention keys, float [batch, source, hidden] (W_a·memory for general attention, memory for dot).</summary>
    public const string MemoryKeys = "memory_keys";

    /// <summary>Decoder step graph: the previous target token, int64 [batch] (end-of-sequence id 0 at the first step).</summary>
    public const string Token = "token";

    /// <summary>Decoder step graph: log-softmax of the logits, float [batch, vocabulary].</summary>
    public const string LogProbabilities = "log_probabilities";

    /// <summary>Decoder step graph: attention weights over the source, float [batch, source].</summary>
    public const string Attention = "attention";

    /// <summary>Forecaster graph: the last values of each series before the forecast origin, float [batch, window], oldest first.</summary>
    public const string History = "history";

    /// <summary>Forecaster graph: the point forecast, float [batch, horizon].</summary>
    public const string Forecast = "forecast";

    /// <summary>Forecaster graph: the lower end of the prediction interval, float [batch, horizon].</summary>
    public const string Lower = "lower";

    /// <summary>Forecaster graph: the upper end of the prediction interval, float [batch, horizon].</summary>
    public const string Upper = "upper";
}

/// <summary>Settings of an ONNX export.</summary>
public sealed class OnnxExportOptions
{
    /// <summary>
    /// Adds the int32 [batch] input <see cref="OnnxNames.SequenceLengths"/> so one batch can hold sequences of different
    /// lengths (default). Without it every sequence runs the full padded length (as torch.onnx.export's graphs do).
    /// </summary>
    public bool SequenceLengthsInput { get; set; } = true;

    /// <summary>
    /// Adds state inputs (<see cref="OnnxNames.InitialHidden"/>, <see cref="OnnxNames.InitialCell"/>) and outputs
    /// (<see cref="OnnxNames.FinalHidden"/>, <see cref="OnnxNames.FinalCell"/>), for streaming generation: feed the final state
    /// of one call as the initial state of the next. Zeros start a sequence.
    /// </summary>
    public bool StateInputsAndOutputs { get; set; }

    /// <summary>Sigmoid or softmax output besides the logits.</summary>
    public OnnxOutputActivation Activation { get; set; }

    /// <summary>Name of the head's output (default <see cref="OnnxNames.Logits"/>; regressors use "score").</summary>
    public string OutputName { get; set; } = OnnxNames.Logits;

    /// <summary>Dense inputs: per-feature mean subtracted inside the graph before the network (null: none).</summary>
    public IReadOnlyList<float>? FeatureMean { get; set; }

    /// <summary>Dense inputs: per-feature standard deviation divided by inside the graph (null: none).</summary>
    public IReadOnlyList<float>? FeatureStd { get; set; }

    /// <summary>The head's output is multiplied by this inside the graph (a regressor's target standard deviation).</summary>
    public float OutputScale { get; set; } = 1f;

    /// <summary>Added to the head's output after <see cref="OutputScale"/> (a regressor's target mean).</summary>
    public float OutputShift { get; set; }

    /// <summary>ONNX operator set version, 14–21 (default 17, what torch.onnx.export writes by default in recent releases).</summary>
    public int Opset { get; set; } = 17;

    /// <summary>Key-value pairs written to the model's <c>metadata_props</c> (vocabulary, tokenizer settings, class names).</summary>
    public IDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>A copy of every setting, <see cref="Metadata"/> included (a new dictionary), so an export can adjust it freely.</summary>
    public OnnxExportOptions Clone()
    {
        var copy = (OnnxExportOptions)MemberwiseClone();
        copy.Metadata = new Dictionary<string, string>(Metadata, StringComparer.Ordinal);
        return copy;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Opset < 14 || Opset > 21) throw new ArgumentException($"Opset must be in 14..21; got {Opset}.", nameof(Opset));
        if (string.IsNullOrWhiteSpace(OutputName)) throw new ArgumentException("OutputName must not be empty.", nameof(OutputName));
        if (!float.IsFinite(OutputScale) || !float.IsFinite(OutputShift)) throw new ArgumentException("OutputScale and OutputShift must be finite.");
        if ((FeatureMean is null) != (FeatureStd is null)) throw new ArgumentException("Give both FeatureMean and FeatureStd, or neither.");
    }
}
