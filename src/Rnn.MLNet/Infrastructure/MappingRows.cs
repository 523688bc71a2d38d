using System;
using Microsoft.ML.Data;
using Rnn.MLNet.Persistence;

namespace Rnn.MLNet.Infrastructure;

// The row types of the CustomMappings inside the saved chains. Their column names are part of saved models (a
// CustomMapping's schema after reload comes from these types alone): never rename a column.

/// <summary>A mapping input that carries the payload column.</summary>
internal interface IPayloadRow
{
    ReadOnlyMemory<char> Model { get; }
}

/// <summary>Input: a text (the private copy of the user's column) and the payload.</summary>
internal sealed class TextInput : IPayloadRow
{
    [ColumnName(PipelineChain.TextColumn)] public ReadOnlyMemory<char> Text { get; set; }
    [ColumnName(PipelineChain.PayloadColumn)] public ReadOnlyMemory<char> Model { get; set; }
}

/// <summary>Input: token strings (keys already mapped to their values) and the payload.</summary>
internal sealed class TokenStringsInput : IPayloadRow
{
    [ColumnName(PipelineChain.TokensColumn)] public ReadOnlyMemory<char>[] Tokens { get; set; } = Array.Empty<ReadOnlyMemory<char>>();
    [ColumnName(PipelineChain.PayloadColumn)] public ReadOnlyMemory<char> Model { get; set; }
}

/// <summary>Input: token ids (converted to Single) and the payload.</summary>
internal sealed class TokenIdsInput : IPayloadRow
{
    [ColumnName(PipelineChain.TokensColumn)] public float[] Tokens { get; set; } = Array.Empty<float>();
    [ColumnName(PipelineChain.PayloadColumn)] public ReadOnlyMemory<char> Model { get; set; }
}

/// <summary>Input: a feature vector (a window, or the vector to describe) and the payload.</summary>
internal sealed class FeaturesInput : IPayloadRow
{
    [ColumnName(PipelineChain.FeaturesColumn)] public float[] Features { get; set; } = Array.Empty<float>();
    [ColumnName(PipelineChain.PayloadColumn)] public ReadOnlyMemory<char> Model { get; set; }
}

/// <summary>An input with no columns.</summary>
internal sealed class NoColumns
{
}

/// <summary>Output: the constant scalar the payload Expression reads beside a vector input.</summary>
internal sealed class ConstantColumn
{
    [ColumnName(PipelineChain.ConstantColumn)] public float Value { get; set; }
}

/// <summary>Output of a binary classifier, in the columns ML.NET's binary evaluator reads.</summary>
internal sealed class BinaryClassifierOutput
{
    /// <summary>Raw logit; the evaluator predicts Score &gt; 0.</summary>
    public float Score { get; set; }
    public float Probability { get; set; }
    public bool PredictedLabel { get; set; }

    public void Set(float logit)
    {
        Score = logit;
        Probability = Losses.SigmoidBinaryCrossEntropy.Sigmoid(logit);
        PredictedLabel = logit > 0;
    }
}

/// <summary>Output of a language model: the most likely next token and its probability.</summary>
internal sealed class NextTokenOutput
{
    public ReadOnlyMemory<char> NextToken { get; set; }
    public float NextTokenProbability { get; set; }
}

/// <summary>Output of a regressor.</summary>
internal sealed class RegressionOutput
{
    public float Score { get; set; }
}

/// <summary>Output of the encoder–decoders: the generated text in a private column.</summary>
internal sealed class GeneratedTextOutput
{
    public const string GeneratedColumn = "RnnMLNet.Generated";
    [ColumnName(GeneratedColumn)] public ReadOnlyMemory<char> Generated { get; set; }
}

/// <summary>Output of the tagger: the tag texts in a private column (then mapped to keys).</summary>
internal sealed class TagTextsOutput
{
    public const string TagsColumn = "RnnMLNet.Tags";
    [ColumnName(TagsColumn)] public ReadOnlyMemory<char>[] Tags { get; set; } = Array.Empty<ReadOnlyMemory<char>>();
}

/// <summary>Output of a multiclass classifier: per-class probabilities (see MulticlassScores.g.cs) and the best class's name.</summary>
internal sealed partial class MulticlassScores
{
    public void Set(System.Collections.Generic.IReadOnlyList<string> classes, float[] probabilities)
    {
        int best = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            Set(i, probabilities[i]);
            if (probabilities[i] > probabilities[best]) best = i;
        }
        Predicted = classes[best].AsMemory();
    }
}
