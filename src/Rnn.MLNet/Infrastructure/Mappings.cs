using System;
using System.Linq;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Transforms;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.SequenceRegression;
using Rnn.MLNet.SequenceToSequence;
using Rnn.MLNet.Tagging;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Infrastructure;

/// <summary>
/// The one CustomMapping factory of the saved chains: decodes the row's payload (once per payload, see
/// <see cref="ModelPersistence.Decode{TModel}"/>) and lets the contract's <see cref="Map"/> run the model on the row.
/// Each contract below is a one-line subclass: ML.NET finds a factory by the contract name saved in the model, so every
/// name ever saved keeps its class (fixtures in tests/Rnn.MLNet.Tests/Fixtures hold one model per contract).
/// </summary>
internal abstract class RnnMapping<TInput, TModel, TOutput> : CustomMappingFactory<TInput, TOutput>
    where TInput : class, IPayloadRow, new() where TModel : class, IPipelineModel<TModel> where TOutput : class, new()
{
    /// <inheritdoc />
    public override Action<TInput, TOutput> GetMapping() => (input, output) => Map(ModelPersistence.Decode<TModel>(input.Model), input, output);

    /// <summary>Runs the model on one row.</summary>
    protected abstract void Map(TModel model, TInput input, TOutput output);

    /// <summary>The CustomMapping estimator of this contract.</summary>
    public IEstimator<ITransformer> Estimator(MLContext ml) =>
        ml.Transforms.CustomMapping(GetMapping(), GetType().GetCustomAttribute<CustomMappingFactoryAttributeAttribute>()!.ContractName);
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TextClassifier.Binary.v1")]
internal sealed class BinaryTextClassifierMapping : RnnMapping<TextInput, TextClassifierModel, BinaryClassifierOutput>
{
    protected override void Map(TextClassifierModel model, TextInput input, BinaryClassifierOutput output) => output.Set(model.Predict(input.Text.ToString())[0]);
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TextClassifier.Multiclass.v1")]
internal sealed class MulticlassTextClassifierMapping : RnnMapping<TextInput, TextClassifierModel, MulticlassScores>
{
    protected override void Map(TextClassifierModel model, TextInput input, MulticlassScores output) => output.Set(model.Classes, model.Predict(input.Text.ToString()));
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TokenStringClassifier.Binary.v1")]
internal sealed class BinaryTokenStringsClassifierMapping : RnnMapping<TokenStringsInput, TextClassifierModel, BinaryClassifierOutput>
{
    protected override void Map(TextClassifierModel model, TokenStringsInput input, BinaryClassifierOutput output) => output.Set(model.PredictIds(model.EncodeTokens(input.Tokens))[0]);
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TokenStringClassifier.Multiclass.v1")]
internal sealed class MulticlassTokenStringsClassifierMapping : RnnMapping<TokenStringsInput, TextClassifierModel, MulticlassScores>
{
    protected override void Map(TextClassifierModel model, TokenStringsInput input, MulticlassScores output) => output.Set(model.Classes, model.PredictIds(model.EncodeTokens(input.Tokens)));
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TokenClassifier.Binary.v1")]
internal sealed class BinaryTokenIdsClassifierMapping : RnnMapping<TokenIdsInput, TextClassifierModel, BinaryClassifierOutput>
{
    protected override void Map(TextClassifierModel model, TokenIdsInput input, BinaryClassifierOutput output) => output.Set(model.PredictIds(model.EncodeIds(input.Tokens))[0]);
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TokenClassifier.Multiclass.v1")]
internal sealed class MulticlassTokenIdsClassifierMapping : RnnMapping<TokenIdsInput, TextClassifierModel, MulticlassScores>
{
    protected override void Map(TextClassifierModel model, TokenIdsInput input, MulticlassScores output) => output.Set(model.Classes, model.PredictIds(model.EncodeIds(input.Tokens)));
}

[CustomMappingFactoryAttribute("Rnn.MLNet.LanguageModel.v1")]
internal sealed class LanguageModelMapping : RnnMapping<TextInput, RnnLanguageModel, NextTokenOutput>
{
    protected override void Map(RnnLanguageModel model, TextInput input, NextTokenOutput output)
    {
        var (token, p) = model.PredictNext(input.Text.ToString());
        output.NextToken = token.AsMemory();
        output.NextTokenProbability = p;
    }
}

[CustomMappingFactoryAttribute("Rnn.MLNet.SequenceRegressor.v1")]
internal sealed class SequenceRegressorMapping : RnnMapping<FeaturesInput, SequenceRegressionModel, RegressionOutput>
{
    protected override void Map(SequenceRegressionModel model, FeaturesInput input, RegressionOutput output) => output.Score = model.Predict(input.Features);
}

[CustomMappingFactoryAttribute("Rnn.MLNet.SequenceToSequence.v1")]
internal sealed class SequenceToSequenceMapping : RnnMapping<TextInput, SequenceGeneratorModel, GeneratedTextOutput>
{
    protected override void Map(SequenceGeneratorModel model, TextInput input, GeneratedTextOutput output) => output.Generated = model.Generate(input.Text.ToString()).AsMemory();
}

[CustomMappingFactoryAttribute("Rnn.MLNet.VectorToSequence.v1")]
internal sealed class VectorToSequenceMapping : RnnMapping<FeaturesInput, SequenceGeneratorModel, GeneratedTextOutput>
{
    protected override void Map(SequenceGeneratorModel model, FeaturesInput input, GeneratedTextOutput output) => output.Generated = model.Generate(input.Features).AsMemory();
}

[CustomMappingFactoryAttribute("Rnn.MLNet.Tagger.v1")]
internal sealed class TaggerMapping : RnnMapping<TokenStringsInput, SequenceTaggerModel, TagTextsOutput>
{
    protected override void Map(SequenceTaggerModel model, TokenStringsInput input, TagTextsOutput output) =>
        output.Tags = model.Predict(input.Tokens.Select(t => t.ToString()).ToArray()).Select(t => t.AsMemory()).ToArray();
}

/// <summary>Adds the constant scalar column the payload Expression reads beside a vector input (no model).</summary>
[CustomMappingFactoryAttribute(Contract)]
internal sealed class ConstantColumnFactory : CustomMappingFactory<NoColumns, ConstantColumn>
{
    public const string Contract = "Rnn.MLNet.Constant.v1";

    public override Action<NoColumns, ConstantColumn> GetMapping() => Map;

    internal static void Map(NoColumns input, ConstantColumn output) => output.Value = 0;
}

/// <summary>
/// The next version (v2) of every contract above, for a model saved by a newer Rnn.MLNet whose mapping changed shape:
/// loading names the contract and what this version reads instead of ML.NET's "Unable to locate an extension". ML.NET
/// wraps it ("Error during class instantiation"); ours is the innermost exception. (Contract names change only when a
/// mapping's columns change; a newer model file in a known contract is reported by <see cref="ModelPersistence"/>.)
/// </summary>
internal abstract class NewerContract : CustomMappingFactory<NoColumns, ConstantColumn>
{
    public override Action<NoColumns, ConstantColumn> GetMapping()
    {
        string contract = GetType().GetCustomAttribute<CustomMappingFactoryAttributeAttribute>()!.ContractName;
        string known = contract[..contract.LastIndexOf(".v", StringComparison.Ordinal)] + ".v1";
        throw new System.IO.InvalidDataException(
            $"The model was saved by a newer Rnn.MLNet: its contract '{contract}' is unknown to this version, which reads '{known}'. Update the Rnn.MLNet package to load it.");
    }
}

[CustomMappingFactoryAttribute("Rnn.MLNet.TextClassifier.Binary.v2")] internal sealed class TextClassifierBinaryV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.TextClassifier.Multiclass.v2")] internal sealed class TextClassifierMulticlassV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.TokenStringClassifier.Binary.v2")] internal sealed class TokenStringClassifierBinaryV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.TokenStringClassifier.Multiclass.v2")] internal sealed class TokenStringClassifierMulticlassV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.TokenClassifier.Binary.v2")] internal sealed class TokenClassifierBinaryV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.TokenClassifier.Multiclass.v2")] internal sealed class TokenClassifierMulticlassV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.LanguageModel.v2")] internal sealed class LanguageModelV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.SequenceRegressor.v2")] internal sealed class SequenceRegressorV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.SequenceToSequence.v2")] internal sealed class SequenceToSequenceV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.VectorToSequence.v2")] internal sealed class VectorToSequenceV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.Tagger.v2")] internal sealed class TaggerV2 : NewerContract { }
[CustomMappingFactoryAttribute("Rnn.MLNet.Constant.v2")] internal sealed class ConstantV2 : NewerContract { }
