using System;
using Microsoft.ML;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Infrastructure;
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


}
