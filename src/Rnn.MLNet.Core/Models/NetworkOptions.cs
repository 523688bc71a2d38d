using System;
using Rnn.MLNet.Cells;

namespace Rnn.MLNet.Models;

/// <summary>How the network reads its input at each time step.</summary>
public enum InputKind
{
    /// <summary>Token ids looked up in a learned embedding table [V, E].</summary>
    Embedding,

    /// <summary>Token ids as one-hot vectors of length V (min-char-rnn style).</summary>
    OneHot,

    /// <summary>Real-valued feature vectors of length F per step (time series, precomputed vectors).</summary>
    Dense,
}

/// <summary>Where the output head reads the recurrent stack.</summary>
public enum OutputMode
{
    /// <summary>Many-to-many: one output per valid time step (language models, tagging).</summary>
    PerStep,

    /// <summary>
    /// Many-to-one: one output per sequence from its final state (classification, regression). Bidirectional stacks
    /// concatenate the forward direction's state after the last valid step and the reverse direction's state after step 0.
    /// </summary>
    LastStep,
}

/// <summary>Architecture of a <see cref="SequenceNetwork{T}"/>: input → stacked recurrent layers → linear head.</summary>
public sealed class NetworkOptions
{
    /// <summary>The recurrent cell.</summary>
    public CellType Cell { get; set; } = CellType.Lstm;

    /// <summary>How inputs are read.</summary>
    public InputKind Input { get; set; } = InputKind.Embedding;

    /// <summary>Number of token ids (for <see cref="InputKind.Embedding"/> and <see cref="InputKind.OneHot"/>).</summary>
    public int VocabularySize { get; set; }

    /// <summary>Embedding width E (for <see cref="InputKind.Embedding"/>).</summary>
    public int EmbeddingSize { get; set; } = 64;

    /// <summary>Features per step F (for <see cref="InputKind.Dense"/>).</summary>
    public int FeatureSize { get; set; }

    /// <summary>Hidden size H of every layer and direction.</summary>
    public int HiddenSize { get; set; } = 128;

    /// <summary>Number of stacked layers.</summary>
    public int Layers { get; set; } = 1;

    /// <summary>Whether each layer also runs right-to-left (output width 2H).</summary>
    public bool Bidirectional { get; set; }

    /// <summary>Dropout probability on the outputs of every layer but the last (training only), as PyTorch's <c>dropout</c>.</summary>
    public float Dropout { get; set; }

    /// <summary>Width O of the linear head (classes, 1 for binary or scalar regression, V for language models).</summary>
    public int OutputSize { get; set; }

    /// <summary>Many-to-many or many-to-one.</summary>
    public OutputMode Output { get; set; } = OutputMode.PerStep;

    /// <summary>
    /// Number of character ids for character-level word features (0 = off; <see cref="InputKind.Embedding"/> input only).
    /// When on, every token's characters run through a one-layer bidirectional recurrent layer of
    /// <see cref="CharacterHiddenSize"/> units per direction, whose two final states are appended to the token's embedding
    /// (what taggers use for rare and unseen words); batches then carry characters (<see cref="SequenceBatch{T}.Characters"/>).
    /// </summary>
    public int CharacterVocabularySize { get; set; }

    /// <summary>Character embedding width (with character features).</summary>
    public int CharacterEmbeddingSize { get; set; } = 32;

    /// <summary>Hidden size per direction of the character layer (with character features).</summary>
    public int CharacterHiddenSize { get; set; } = 32;

    /// <summary>Dropout probability on the first layer's input (embedding and character features), training only.</summary>
    public float InputDropout { get; set; }

    /// <summary>
    /// Size W of a sparse bag-of-features input (e.g. word and character n-grams) added linearly to the head's output:
    /// out = head(h) + wide.weight · bag, the "wide" part of a wide-and-deep model. Many-to-one only; 0 = none.
    /// </summary>
    public int WideFeatures { get; set; }

    /// <summary>True when tokens also carry character-level features.</summary>
    public bool HasCharacterFeatures => CharacterVocabularySize > 0;

    /// <summary>Width of one step's input to the first recurrent layer.</summary>
    public int RecurrentInputSize => Input switch
    {
        InputKind.Embedding => EmbeddingSize + (HasCharacterFeatures ? 2 * CharacterHiddenSize : 0),
        InputKind.OneHot => VocabularySize,
        _ => FeatureSize,
    };

    /// <summary>Number of directions (1 or 2).</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Cell)) throw new ArgumentException($"Unknown cell type {(int)Cell}.", nameof(Cell));
        if (Input != InputKind.Dense && VocabularySize < 1) throw new ArgumentException($"VocabularySize must be at least 1 for {Input} input; got {VocabularySize}.", nameof(VocabularySize));
        if (Input == InputKind.Embedding && EmbeddingSize < 1) throw new ArgumentException($"EmbeddingSize must be at least 1; got {EmbeddingSize}.", nameof(EmbeddingSize));
        if (Input == InputKind.Dense && FeatureSize < 1) throw new ArgumentException($"FeatureSize must be at least 1 for dense input; got {FeatureSize}.", nameof(FeatureSize));
        if (HiddenSize < 1) throw new ArgumentException($"HiddenSize must be at least 1; got {HiddenSize}.", nameof(HiddenSize));
        if (Layers < 1 || Layers > MaxLayers) throw new ArgumentException($"Layers must be in 1..{MaxLayers}; got {Layers}.", nameof(Layers));
        if (OutputSize < 1) throw new ArgumentException($"OutputSize must be at least 1; got {OutputSize}.", nameof(OutputSize));
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1); got {Dropout}.", nameof(Dropout));
        if (!(InputDropout >= 0 && InputDropout < 1)) throw new ArgumentException($"InputDropout must be in [0, 1); got {InputDropout}.", nameof(InputDropout));
        if (WideFeatures < 0) throw new ArgumentException($"WideFeatures must not be negative; got {WideFeatures}.", nameof(WideFeatures));
        if (WideFeatures > 0 && Output != OutputMode.LastStep) throw new ArgumentException("WideFeatures needs a many-to-one network (Output = LastStep): the bag is one per sequence.", nameof(WideFeatures));
        if (CharacterVocabularySize < 0) throw new ArgumentException($"CharacterVocabularySize must not be negative; got {CharacterVocabularySize}.", nameof(CharacterVocabularySize));
        if (HasCharacterFeatures)
        {
            if (Input != InputKind.Embedding) throw new ArgumentException($"Character features need Embedding input; got {Input}.", nameof(CharacterVocabularySize));
            if (CharacterEmbeddingSize < 1) throw new ArgumentException($"CharacterEmbeddingSize must be at least 1; got {CharacterEmbeddingSize}.", nameof(CharacterEmbeddingSize));
            if (CharacterHiddenSize < 1) throw new ArgumentException($"CharacterHiddenSize must be at least 1; got {CharacterHiddenSize}.", nameof(CharacterHiddenSize));
        }
        const long maxParameters = 1L << 30;
        if (ParameterCount() > maxParameters) throw new ArgumentException($"The network would have {ParameterCount()} parameters, more than the limit {maxParameters}.");
    }

    /// <summary>Most stacked layers a network may have (a bound that keeps validating untrusted options cheap).</summary>
    public const int MaxLayers = 64;

    /// <summary>Total parameter count for these options (closed form, computed in double so absurd sizes cannot overflow).</summary>
    public long ParameterCount()
    {
        double d = Directions, h = HiddenSize, gh = (double)Cell.GateCount() * HiddenSize, layers = System.Math.Max(0, Layers);
        double n = Input == InputKind.Embedding ? (double)VocabularySize * EmbeddingSize : 0;
        if (layers > 0)
        {
            n += d * (gh * RecurrentInputSize + gh * h + 2 * gh);              // layer 0
            n += (layers - 1) * d * (gh * d * h + gh * h + 2 * gh);             // layers 1..L−1
        }
        n += (double)OutputSize * d * h + OutputSize;
        n += (double)OutputSize * System.Math.Max(0, WideFeatures);
        if (HasCharacterFeatures)
        {
            double ch = CharacterHiddenSize, cg = (double)Cell.GateCount() * ch;
            n += (double)CharacterVocabularySize * CharacterEmbeddingSize + 2 * (cg * CharacterEmbeddingSize + cg * ch + 2 * cg);
        }
        return n >= long.MaxValue ? long.MaxValue : (long)n;
    }

    /// <summary>A copy of these options.</summary>
    public NetworkOptions Clone() => (NetworkOptions)MemberwiseClone();
}
