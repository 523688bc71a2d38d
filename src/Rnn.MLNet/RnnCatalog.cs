using System;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.SequenceRegression;
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
}
