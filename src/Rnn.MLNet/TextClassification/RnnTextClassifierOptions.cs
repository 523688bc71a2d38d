using System;
using Rnn.MLNet.Text;

namespace Rnn.MLNet.TextClassification;

/// <summary>
/// Options of the recurrent text classifier (binary and multiclass). Shared training settings are on
/// <see cref="RnnTrainerOptions"/> (defaults here: 1 layer, hidden 64, 10 epochs, batch 32, learning rate 3e-3).
/// </summary>
public sealed class RnnTextClassifierOptions : RnnTrainerOptions
{
    /// <summary>Label column: Boolean for binary, key-typed for multiclass (use MapValueToKey first).</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Text column.</summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>
    /// Alternative input: a column of token-id vectors (ML.NET keys, e.g. from MapValueToKey on tokens, or non-negative
    /// integer ids as Single/Double/Int32). When set, <see cref="TextColumnName"/> is not read.
    /// </summary>
    public string? TokenColumnName { get; set; }

    /// <summary>Embedding width.</summary>
    public int EmbeddingSize { get; set; } = 64;

    /// <summary>Read the text in both directions.</summary>
    public bool Bidirectional { get; set; } = true;

    /// <summary>How text is split into tokens.</summary>
    public TokenizerKind Tokenizer { get; set; } = TokenizerKind.Word;

    /// <summary>Lower-case texts before tokenizing.</summary>
    public bool LowerCase { get; set; } = true;

    /// <summary>Largest vocabulary (the unknown token included); rarer tokens become &lt;unk&gt;.</summary>
    public int MaximumVocabularySize { get; set; } = 20000;

    /// <summary>Tokens read per text (the first ones).</summary>
    public int MaximumLength { get; set; } = 200;

    /// <summary>Weight classes inversely to their frequency (binary: pos_weight = negatives / positives).</summary>
    public bool BalanceClasses { get; set; }

    /// <summary>
    /// Null (default): the training rows are read into memory once. A number: the training view is streamed — read with
    /// a new cursor each epoch, this many rows in memory at a time, each buffer shuffled on its own — so a data set larger
    /// than memory can be used (label counts and the vocabulary come from one extra pass). A buffer at least as large as
    /// the data set trains exactly as the in-memory path. <see cref="RnnTrainerOptions.ValidationFraction"/> is not
    /// available when streaming: pass a validation view to Fit.
    /// </summary>
    public int? ShuffleBufferSize { get; set; }

    internal override void Validate()
    {
        if (ShuffleBufferSize < 1) throw new ArgumentException($"ShuffleBufferSize must be null or at least 1; got {ShuffleBufferSize}.", nameof(ShuffleBufferSize));
        if (string.IsNullOrEmpty(LabelColumnName)) throw new ArgumentException("LabelColumnName must be set.", nameof(LabelColumnName));
        if (string.IsNullOrEmpty(TextColumnName)) throw new ArgumentException("TextColumnName must be set.", nameof(TextColumnName));
        if (MaximumVocabularySize < 2) throw new ArgumentException($"MaximumVocabularySize must be at least 2; got {MaximumVocabularySize}.", nameof(MaximumVocabularySize));
        if (MaximumLength < 1) throw new ArgumentException($"MaximumLength must be at least 1; got {MaximumLength}.", nameof(MaximumLength));
        base.Validate();
    }
}
