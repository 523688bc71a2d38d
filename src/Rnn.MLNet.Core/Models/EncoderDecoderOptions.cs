using System;
using Rnn.MLNet.Cells;

namespace Rnn.MLNet.Models;

/// <summary>What the encoder of an <see cref="EncoderDecoderNetwork{T}"/> reads.</summary>
public enum SourceKind
{
    /// <summary>A token sequence (sequence-to-sequence): embedding → stacked recurrent encoder whose final state starts the decoder.</summary>
    Tokens,

    /// <summary>
    /// One feature vector per example (one-to-many): h0 of every decoder layer = tanh(W f + b); optionally the vector is
    /// also fed beside the token embedding at every decoder step (<see cref="EncoderDecoderOptions.FeedFeaturesEveryStep"/>).
    /// </summary>
    Features,
}

/// <summary>
/// Global attention of the decoder over the encoder outputs, applied after the decoder's top layer as in Luong et al. (2015):
/// α = softmax over source positions of score(h_t, h̄_s), context c_t = Σ α_s h̄_s, h̃_t = tanh(W_c [c_t; h_t] + b_c).
/// </summary>
public enum AttentionKind
{
    /// <summary>No attention: the head reads the decoder's top output.</summary>
    None,

    /// <summary>score(h_t, h̄_s) = h_tᵀ h̄_s.</summary>
    Dot,

    /// <summary>score(h_t, h̄_s) = h_tᵀ W_a h̄_s (a learned [H_dec, H_dec] matrix).</summary>
    General,

    /// <summary>
    /// Bahdanau et al. (2015) additive score: score(h_t, h̄_s) = vᵀ tanh(W_q h_t + W_k h̄_s) (W_q, W_k [H_dec, H_dec], v [H_dec]),
    /// here with the query h_t of the current step (Luong's placement), so training still runs the decoder over all steps at once.
    /// </summary>
    Additive,
}

/// <summary>
/// Architecture of an <see cref="EncoderDecoderNetwork{T}"/>: an encoder (token sequence or feature vector), a
/// unidirectional decoder of the same cell and depth, optional attention, and a linear head over the target vocabulary.
/// </summary>
public sealed class EncoderDecoderOptions
{
    /// <summary>The recurrent cell of encoder and decoder.</summary>
    public CellType Cell { get; set; } = CellType.Lstm;

    /// <summary>What the encoder reads.</summary>
    public SourceKind Source { get; set; } = SourceKind.Tokens;

    /// <summary>Source vocabulary size (token sources).</summary>
    public int SourceVocabularySize { get; set; }

    /// <summary>Length F of the feature vector (feature sources).</summary>
    public int FeatureSize { get; set; }

    /// <summary>Target vocabulary size; id 0 is the end-of-sequence token, which also starts decoding.</summary>
    public int TargetVocabularySize { get; set; }

    /// <summary>Width of the source and target embeddings.</summary>
    public int EmbeddingSize { get; set; } = 64;

    /// <summary>Hidden size H of each encoder direction. The decoder's hidden size is D·H (the directions' final states concatenated).</summary>
    public int HiddenSize { get; set; } = 128;

    /// <summary>Layers of the encoder and of the decoder (decoder layer l starts from encoder layer l's final state).</summary>
    public int Layers { get; set; } = 1;

    /// <summary>Whether the encoder also reads right-to-left (token sources).</summary>
    public bool BidirectionalEncoder { get; set; }

    /// <summary>Attention of the decoder over the encoder outputs (token sources).</summary>
    public AttentionKind Attention { get; set; } = AttentionKind.None;

    /// <summary>Feed the feature vector beside the embedding at every decoder step (feature sources).</summary>
    public bool FeedFeaturesEveryStep { get; set; }

    /// <summary>Dropout between stacked layers (training only).</summary>
    public float Dropout { get; set; }

    /// <summary>Dropout on the source and target embeddings and on the head's input (training only).</summary>
    public float EmbeddingDropout { get; set; }

    /// <summary>Encoder directions D.</summary>
    public int Directions => BidirectionalEncoder && Source == SourceKind.Tokens ? 2 : 1;

    /// <summary>Decoder hidden size D·H.</summary>
    public int DecoderHiddenSize => Directions * HiddenSize;

    /// <summary>Width of one decoder input step: embedding, plus F when the features are fed every step.</summary>
    public int DecoderInputSize => EmbeddingSize + (Source == SourceKind.Features && FeedFeaturesEveryStep ? FeatureSize : 0);

    /// <summary>Most layers (keeps validating untrusted options cheap).</summary>
    public const int MaxLayers = NetworkOptions.MaxLayers;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Cell)) throw new ArgumentException($"Unknown cell type {(int)Cell}.", nameof(Cell));
        if (!Enum.IsDefined(Source)) throw new ArgumentException($"Unknown source kind {(int)Source}.", nameof(Source));
        if (!Enum.IsDefined(Attention)) throw new ArgumentException($"Unknown attention kind {(int)Attention}.", nameof(Attention));
        if (Source == SourceKind.Tokens && SourceVocabularySize < 1) throw new ArgumentException($"SourceVocabularySize must be at least 1; got {SourceVocabularySize}.", nameof(SourceVocabularySize));
        if (Source == SourceKind.Features && FeatureSize < 1) throw new ArgumentException($"FeatureSize must be at least 1 for a feature source; got {FeatureSize}.", nameof(FeatureSize));
        if (Source == SourceKind.Features && Attention != AttentionKind.None) throw new ArgumentException("Attention needs a token source (a feature vector has no positions to attend to).", nameof(Attention));
        if (Source == SourceKind.Features && BidirectionalEncoder) throw new ArgumentException("A bidirectional encoder needs a token source.", nameof(BidirectionalEncoder));
        if (Source == SourceKind.Tokens && FeedFeaturesEveryStep) throw new ArgumentException("FeedFeaturesEveryStep needs a feature source.", nameof(FeedFeaturesEveryStep));
        if (TargetVocabularySize < 2) throw new ArgumentException($"TargetVocabularySize must be at least 2 (end-of-sequence and one token); got {TargetVocabularySize}.", nameof(TargetVocabularySize));
        if (EmbeddingSize < 1) throw new ArgumentException($"EmbeddingSize must be at least 1; got {EmbeddingSize}.", nameof(EmbeddingSize));
        if (HiddenSize < 1) throw new ArgumentException($"HiddenSize must be at least 1; got {HiddenSize}.", nameof(HiddenSize));
        if (Layers < 1 || Layers > MaxLayers) throw new ArgumentException($"Layers must be in 1..{MaxLayers}; got {Layers}.", nameof(Layers));
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1); got {Dropout}.", nameof(Dropout));
        if (!(EmbeddingDropout >= 0 && EmbeddingDropout < 1)) throw new ArgumentException($"EmbeddingDropout must be in [0, 1); got {EmbeddingDropout}.", nameof(EmbeddingDropout));
        const long maxParameters = 1L << 30;
        if (ParameterCount() > maxParameters) throw new ArgumentException($"The network would have {ParameterCount()} parameters, more than the limit {maxParameters}.");
    }

    /// <summary>Total parameter count (closed form in double, so absurd sizes cannot overflow).</summary>
    public long ParameterCount()
    {
        double g = Cell.GateCount(), h = HiddenSize, d = Directions, dh = d * h, e = EmbeddingSize, layers = System.Math.Max(0, Layers);
        double n = 0;
        if (Source == SourceKind.Tokens)
        {
            n += (double)SourceVocabularySize * e;
            if (layers > 0) n += d * (g * h * e + g * h * h + 2 * g * h) + (layers - 1) * d * (g * h * dh + g * h * h + 2 * g * h);
        }
        else
        {
            n += layers * dh * FeatureSize + layers * dh; // bridge
        }
        n += (double)TargetVocabularySize * e;
        double din = DecoderInputSize;
        if (layers > 0) n += g * dh * din + g * dh * dh + 2 * g * dh + (layers - 1) * (g * dh * dh + g * dh * dh + 2 * g * dh);
        if (Attention == AttentionKind.General) n += dh * dh;
        if (Attention == AttentionKind.Additive) n += 2 * dh * dh + dh;
        if (Attention != AttentionKind.None) n += dh * 2 * dh + dh;
        n += (double)TargetVocabularySize * dh + TargetVocabularySize;
        return n >= long.MaxValue ? long.MaxValue : (long)n;
    }

    /// <summary>A copy.</summary>
    public EncoderDecoderOptions Clone() => (EncoderDecoderOptions)MemberwiseClone();
}
