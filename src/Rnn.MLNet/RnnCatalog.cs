using System;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Forecasting;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.SequenceRegression;
using Rnn.MLNet.SequenceToSequence;
using Rnn.MLNet.Tagging;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet;

/// <summary>Catalog extension methods: <c>mlContext.BinaryClassification.Trainers.RnnText(...)</c> and the rest.</summary>
public static class RnnCatalog
{
    /// <summary>A recurrent binary text classifier (Boolean label, text input).</summary>
    /// <param name="catalog">The binary classification trainers catalog.</param>
    /// <param name="labelColumnName">Boolean label column.</param>
    /// <param name="textColumnName">Text column.</param>
    /// <param name="cell">Recurrent cell.</param>
    /// <param name="hiddenSize">Hidden size per direction.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="seed">Seed (null: from the MLContext).</param>
    public static RnnTextClassifier RnnText(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        string labelColumnName = "Label", string textColumnName = "Text", CellType cell = CellType.Lstm, int hiddenSize = 64, int epochs = 10, int? seed = null)
        => RnnText(catalog, new RnnTextClassifierOptions { LabelColumnName = labelColumnName, TextColumnName = textColumnName, Cell = cell, HiddenSize = hiddenSize, Epochs = epochs, Seed = seed });

    /// <summary>A recurrent binary text classifier with every option.</summary>
    public static RnnTextClassifier RnnText(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, RnnTextClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnTextClassifier(CatalogEnvironment.Of(catalog), options, binary: true);
    }

    /// <summary>A recurrent multiclass text classifier (key-typed label, text input).</summary>
    /// <param name="catalog">The multiclass classification trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column (MapValueToKey first).</param>
    /// <param name="textColumnName">Text column.</param>
    /// <param name="cell">Recurrent cell.</param>
    /// <param name="hiddenSize">Hidden size per direction.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="seed">Seed (null: from the MLContext).</param>
    public static RnnTextClassifier RnnText(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string textColumnName = "Text", CellType cell = CellType.Lstm, int hiddenSize = 64, int epochs = 10, int? seed = null)
        => RnnText(catalog, new RnnTextClassifierOptions { LabelColumnName = labelColumnName, TextColumnName = textColumnName, Cell = cell, HiddenSize = hiddenSize, Epochs = epochs, Seed = seed });

    /// <summary>A recurrent multiclass text classifier with every option.</summary>
    public static RnnTextClassifier RnnText(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, RnnTextClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnTextClassifier(CatalogEnvironment.Of(catalog), options, binary: false);
    }

    /// <summary>A recurrent next-token language model over a text column (character or word level).</summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="textColumnName">Text column.</param>
    /// <param name="tokenizer">Character or word tokens.</param>
    /// <param name="hiddenSize">Hidden size.</param>
    /// <param name="epochs">Epochs.</param>
    /// <param name="seed">Seed (null: from the MLContext).</param>
    public static RnnLanguageModelEstimator RnnLanguageModel(this TransformsCatalog.TextTransforms catalog, string textColumnName = "Text",
        Text.TokenizerKind tokenizer = Text.TokenizerKind.Character, int hiddenSize = 128, int epochs = 10, int? seed = null)
        => RnnLanguageModel(catalog, new RnnLanguageModelOptions { TextColumnName = textColumnName, Tokenizer = tokenizer, HiddenSize = hiddenSize, Epochs = epochs, Seed = seed });

    /// <summary>A recurrent language model with every option.</summary>
    public static RnnLanguageModelEstimator RnnLanguageModel(this TransformsCatalog.TextTransforms catalog, RnnLanguageModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnLanguageModelEstimator(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>A recurrent many-to-one regressor over a window column (time-series forecasting, sequence regression).</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="labelColumnName">Single label.</param>
    /// <param name="featureColumnName">Vector of Single: steps × featuresPerStep values, oldest first.</param>
    /// <param name="featuresPerStep">Features per step.</param>
    /// <param name="hiddenSize">Hidden size.</param>
    /// <param name="epochs">Epochs.</param>
    /// <param name="seed">Seed (null: from the MLContext).</param>
    public static RnnSequenceRegressor RnnSequence(this RegressionCatalog.RegressionTrainers catalog, string labelColumnName = "Label",
        string featureColumnName = "Features", int featuresPerStep = 1, int hiddenSize = 32, int epochs = 100, int? seed = null)
        => RnnSequence(catalog, new RnnSequenceRegressorOptions { LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, FeaturesPerStep = featuresPerStep, HiddenSize = hiddenSize, Epochs = epochs, Seed = seed });

    /// <summary>A recurrent sequence regressor with every option.</summary>
    public static RnnSequenceRegressor RnnSequence(this RegressionCatalog.RegressionTrainers catalog, RnnSequenceRegressorOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnSequenceRegressor(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>A sequence-to-sequence encoder–decoder: reads a text column, writes a generated text column (translation-like tasks).</summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="outputColumnName">Column receiving the generated text.</param>
    /// <param name="sourceColumnName">Source text column.</param>
    /// <param name="targetColumnName">Target text column (training).</param>
    /// <param name="attention">Attention of the decoder over the encoder outputs.</param>
    /// <param name="hiddenSize">Hidden size per encoder direction.</param>
    /// <param name="epochs">Epochs.</param>
    /// <param name="seed">Seed (null: from the MLContext).</param>
    public static RnnSequenceToSequenceEstimator RnnSequenceToSequence(this TransformsCatalog.TextTransforms catalog, string outputColumnName = "Generated",
        string sourceColumnName = "Source", string targetColumnName = "Target", Models.AttentionKind attention = Models.AttentionKind.General, int hiddenSize = 128, int epochs = 20, int? seed = null)
        => RnnSequenceToSequence(catalog, new RnnSequenceToSequenceOptions
        {
            OutputColumnName = outputColumnName, SourceColumnName = sourceColumnName, TargetColumnName = targetColumnName, Attention = attention,
            HiddenSize = hiddenSize, Epochs = epochs, Seed = seed,
        });

    /// <summary>A sequence-to-sequence encoder–decoder with every option.</summary>
    public static RnnSequenceToSequenceEstimator RnnSequenceToSequence(this TransformsCatalog.TextTransforms catalog, RnnSequenceToSequenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnSequenceToSequenceEstimator(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>One-to-many generation: reads a feature vector column, writes a generated text column (describe a vector).</summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="outputColumnName">Column receiving the generated text.</param>
    /// <param name="featureColumnName">Vector of Single of known size.</param>
    /// <param name="targetColumnName">Target text column (training).</param>
    /// <param name="hiddenSize">Decoder hidden size.</param>
    /// <param name="epochs">Epochs.</param>
    /// <param name="seed">Seed (null: from the MLContext).</param>
    public static RnnVectorToSequenceEstimator RnnVectorToSequence(this TransformsCatalog.TextTransforms catalog, string outputColumnName = "Generated",
        string featureColumnName = "Features", string targetColumnName = "Target", int hiddenSize = 128, int epochs = 20, int? seed = null)
        => RnnVectorToSequence(catalog, new RnnVectorToSequenceOptions
        {
            OutputColumnName = outputColumnName, FeatureColumnName = featureColumnName, TargetColumnName = targetColumnName, HiddenSize = hiddenSize, Epochs = epochs, Seed = seed,
        });

    /// <summary>One-to-many generation with every option.</summary>
    public static RnnVectorToSequenceEstimator RnnVectorToSequence(this TransformsCatalog.TextTransforms catalog, RnnVectorToSequenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnVectorToSequenceEstimator(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>A per-token tagger (bidirectional): a tokens column in, a tags column (vector of keys with key values) out.</summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="outputColumnName">Column receiving the predicted tags.</param>
    /// <param name="tokensColumnName">Tokens: a vector of text or of keys with key values.</param>
    /// <param name="labelColumnName">Reference tags (training): one per token, text or keys.</param>
    /// <param name="hiddenSize">Hidden size per direction.</param>
    /// <param name="epochs">Epochs.</param>
    /// <param name="seed">Seed (null: from the MLContext).</param>
    public static RnnSequenceTaggerEstimator RnnSequenceTagger(this TransformsCatalog.TextTransforms catalog, string outputColumnName = "PredictedTags",
        string tokensColumnName = "Tokens", string labelColumnName = "Tags", int hiddenSize = 64, int epochs = 10, int? seed = null)
        => RnnSequenceTagger(catalog, new RnnSequenceTaggerOptions
        {
            OutputColumnName = outputColumnName, TokensColumnName = tokensColumnName, LabelColumnName = labelColumnName, HiddenSize = hiddenSize, Epochs = epochs, Seed = seed,
        });

    /// <summary>A per-token tagger with every option.</summary>
    public static RnnSequenceTaggerEstimator RnnSequenceTagger(this TransformsCatalog.TextTransforms catalog, RnnSequenceTaggerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnSequenceTaggerEstimator(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>Per-token accuracy of a tagger's output (see <see cref="SequenceTaggingEvaluator"/>).</summary>
    /// <param name="catalog">The multiclass classification catalog.</param>
    /// <param name="data">Scored data.</param>
    /// <param name="labelColumnName">Reference tags.</param>
    /// <param name="predictedColumnName">Predicted tags.</param>
    public static SequenceTaggingMetrics EvaluateSequenceTags(this MulticlassClassificationCatalog catalog, IDataView data, string labelColumnName = "Tags", string predictedColumnName = "PredictedTags")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return SequenceTaggingEvaluator.Evaluate(data, labelColumnName, predictedColumnName);
    }

    /// <summary>A global recurrent forecaster: one series, or many (a series-id column) trained as one model.</summary>
    /// <param name="catalog">The forecasting catalog.</param>
    /// <param name="outputColumnName">Point forecast column (vector of <paramref name="horizon"/> Single).</param>
    /// <param name="valueColumnName">Series values (Single or Double), in time order.</param>
    /// <param name="horizon">Steps to forecast.</param>
    /// <param name="seasonalPeriod">Seasonal period (null: detected).</param>
    /// <param name="seriesIdColumnName">Series id column (Text), or null for one series.</param>
    /// <param name="lowerBoundColumnName">Lower interval bound column.</param>
    /// <param name="upperBoundColumnName">Upper interval bound column.</param>
    /// <param name="intervalCoverage">Nominal coverage of the interval.</param>
    /// <param name="seed">Seed (null: from the MLContext).</param>
    public static RnnForecastingEstimator ForecastByRnn(this ForecastingCatalog catalog, string outputColumnName, string valueColumnName, int horizon,
        int? seasonalPeriod = null, string? seriesIdColumnName = null, string lowerBoundColumnName = "LowerBound", string upperBoundColumnName = "UpperBound",
        double intervalCoverage = 0.9, int? seed = null)
        => ForecastByRnn(catalog, new RnnForecastingOptions
        {
            OutputColumnName = outputColumnName, ValueColumnName = valueColumnName, Horizon = horizon, SeasonalPeriod = seasonalPeriod,
            SeriesIdColumnName = seriesIdColumnName, LowerBoundColumnName = lowerBoundColumnName, UpperBoundColumnName = upperBoundColumnName,
            IntervalCoverage = intervalCoverage, Seed = seed,
        });

    /// <summary>A global recurrent forecaster with every option.</summary>
    public static RnnForecastingEstimator ForecastByRnn(this ForecastingCatalog catalog, RnnForecastingOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RnnForecastingEstimator(CatalogEnvironment.Of(catalog), options);
    }

    /// <summary>
    /// Per-token contributions of a fitted recurrent text classifier: adds <c>Tokens</c> (the tokens the model read) and
    /// <c>Contributions</c> (each one's share of the explained logit), by integrated gradients through the embedding or by
    /// occlusion. The recurrent counterpart of <c>CalculateFeatureContribution</c>; see docs/explanations.md.
    /// </summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="classifier">The fitted binary or multiclass classifier to explain.</param>
    /// <param name="options">Method, baseline, quadrature and column names (null: integrated gradients, zero baseline).</param>
    public static Explanations.TokenContributionEstimator CalculateTokenContributions(this TransformsCatalog.TextTransforms catalog,
        RnnTextClassificationTransformer classifier, Explanations.TokenContributionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new Explanations.TokenContributionEstimator(classifier, options);
    }

    /// <summary>
    /// Per-token contributions to every tag of a fitted recurrent tagger: a Tokens column and a Contributions column of n × n
    /// values, row-major (row t: each token's contribution to the score of the tag predicted at position t), by integrated
    /// gradients (default) or occlusion; see <see cref="Explanations.TagContributionEstimator"/> and docs/explanations.md.
    /// </summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="tagger">The fitted tagger to explain.</param>
    /// <param name="options">Method, baseline, quadrature and column names (null: integrated gradients, zero baseline).</param>
    public static Explanations.TagContributionEstimator CalculateTokenContributions(this TransformsCatalog.TextTransforms catalog,
        Tagging.RnnSequenceTaggerTransformer tagger, Explanations.TokenContributionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new Explanations.TagContributionEstimator(tagger, options);
    }
}
