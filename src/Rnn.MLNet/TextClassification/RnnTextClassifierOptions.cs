using System;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Rnn.MLNet.Text;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.TextClassification;

/// <summary>
/// Options of the recurrent text classifier (binary and multiclass). Shared training settings are on
/// <see cref="RnnTrainerOptions"/>; the defaults here are a recipe meant to work from a few hundred to millions of rows
/// without tuning (docs/text-classification.md): an ensemble (<see cref="EnsembleSize"/>) of bidirectional GRU classifiers
/// (1 layer, hidden 64), each trained on a different train/validation split of the data (so together they see all of it)
/// and early-stopped on its own validation fold (patience 3, at most 20 epochs); each member first fits a linear model over
/// word and character n-grams (the "wide" part) and then trains it jointly with the recurrent part; word-level embedding
/// dropout 0.25 and AdamW (learning rate 3e-3, weight decay 0.01), batch 32. Every setting is checked when the estimator
/// is created; the message names the option.
/// </summary>
public sealed class RnnTextClassifierOptions : RnnTrainerOptions
{
    /// <summary>Options with the text classifier's defaults.</summary>
    public RnnTextClassifierOptions()
    {
        Cell = CellType.Gru;
        Epochs = 20;
        Optimizer = OptimizerKind.AdamW;
        WeightDecay = 0.01;
        ValidationFraction = 0.1;
        EarlyStoppingPatience = 3;
    }

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

    /// <summary>Dropout on the embedding vectors during training (NetworkOptions.InputDropout: each value zeroed with this probability, the rest scaled by 1/(1 − p)).</summary>
    public float EmbeddingDropout { get; set; } = 0.25f;

    /// <summary>
    /// Pre-trained word vectors: a GloVe, word2vec (text) or fastText (.vec) file. Vocabulary words found in it start from
    /// their vector (the others from random ones of the same spread); the embedding width becomes the file's dimension. Null = none.
    /// </summary>
    public string? PretrainedEmbeddings { get; set; }

    /// <summary>
    /// Members of the ensemble (their probabilities are averaged in one transformer, saved in one .zip). Member i trains on
    /// every row but fold i of <see cref="EnsembleSize"/> folds and early-stops on fold i. 0 = by data size: 5 below 50,000
    /// rows, 3 below 500,000, else 1. With 1 member, <see cref="RnnTrainerOptions.ValidationFraction"/> of the rows are held
    /// out instead; with a validation set passed to Fit, every member trains on all rows and validates on it.
    /// </summary>
    public int EnsembleSize { get; set; }

    /// <summary>Longest word n-gram of the linear (wide) part (0 = no word n-grams). The linear part reads text columns only.</summary>
    public int WordNGrams { get; set; } = 2;

    /// <summary>Character n-gram length of the linear part (0 = none; with <see cref="WordNGrams"/> = 0 too, no linear part).</summary>
    public int CharNGrams { get; set; } = 3;

    /// <summary>Largest n-gram dictionary of the linear part (the most frequent n-grams seen in at least two training texts).</summary>
    public int MaximumBagSize { get; set; } = 200_000;

    /// <summary>Tokens seen fewer times than this in training become &lt;unk&gt; (so &lt;unk&gt; is trained too).</summary>
    public int MinimumTokenCount { get; set; } = 2;

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
        if (!(EmbeddingDropout >= 0 && EmbeddingDropout < 1)) throw new ArgumentException($"EmbeddingDropout must be in [0, 1); got {EmbeddingDropout}.", nameof(EmbeddingDropout));
        if (EnsembleSize < 0 || EnsembleSize > 100) throw new ArgumentException($"EnsembleSize must be 0 (by data size) to 100; got {EnsembleSize}.", nameof(EnsembleSize));
        if (WordNGrams < 0 || WordNGrams > 5) throw new ArgumentException($"WordNGrams must be 0 to 5; got {WordNGrams}.", nameof(WordNGrams));
        if (CharNGrams < 0 || CharNGrams > 8) throw new ArgumentException($"CharNGrams must be 0 to 8; got {CharNGrams}.", nameof(CharNGrams));
        if (MaximumBagSize < 1) throw new ArgumentException($"MaximumBagSize must be at least 1; got {MaximumBagSize}.", nameof(MaximumBagSize));
        if (MinimumTokenCount < 1) throw new ArgumentException($"MinimumTokenCount must be at least 1; got {MinimumTokenCount}.", nameof(MinimumTokenCount));
        if (!Enum.IsDefined(Tokenizer)) throw new ArgumentException($"Unknown tokenizer {(int)Tokenizer}.", nameof(Tokenizer));
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"Unknown optimizer {(int)Optimizer}.", nameof(Optimizer));
        if (!(ClipNorm >= 0) || double.IsInfinity(ClipNorm)) throw new ArgumentException($"ClipNorm must be a finite number ≥ 0; got {ClipNorm}.", nameof(ClipNorm));
        if (PretrainedEmbeddings is not null && !System.IO.File.Exists(PretrainedEmbeddings))
            throw new ArgumentException($"PretrainedEmbeddings: the file '{PretrainedEmbeddings}' does not exist.", nameof(PretrainedEmbeddings));
        base.Validate();
        // The network's own checks name the same options (EmbeddingSize, EmbeddingDropout, and the sizes above).
        NetworkOptions(vocabularySize: 2, outputSize: 1, wideFeatures: 0).Validate();
    }

    internal NetworkOptions NetworkOptions(int vocabularySize, int outputSize, int wideFeatures) => new()
    {
        Cell = Cell, Input = InputKind.Embedding, VocabularySize = vocabularySize, EmbeddingSize = EmbeddingSize,
        HiddenSize = HiddenSize, Layers = Layers, Bidirectional = Bidirectional, Dropout = Dropout, InputDropout = EmbeddingDropout,
        OutputSize = outputSize, Output = OutputMode.LastStep, WideFeatures = wideFeatures,
    };

    /// <summary>The ensemble size <see cref="EnsembleSize"/> gives for a number of training rows.</summary>
    internal int MembersFor(int rows) => EnsembleSize > 0 ? EnsembleSize : rows < 50_000 ? 5 : rows < 500_000 ? 3 : 1;
}
