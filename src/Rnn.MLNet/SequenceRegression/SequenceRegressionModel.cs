using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.SequenceRegression;

/// <summary>
/// A trained many-to-one recurrent regressor over windows of F features per step, with the input and target scaling
/// learned at Fit (standardization). Thread-safe.
/// </summary>
public sealed class SequenceRegressionModel : IPipelineModel<SequenceRegressionModel>
{
    internal const string Kind = "sequence-regressor";
    private readonly NetworkPool _pool;

    /// <summary>Features per time step (F).</summary>
    public int FeaturesPerStep { get; }

    /// <summary>Per-feature mean and standard deviation subtracted / divided before the network.</summary>
    public float[] FeatureMean { get; }

    /// <summary>Per-feature standard deviation.</summary>
    public float[] FeatureStd { get; }

    /// <summary>Target mean (predictions are mapped back with it).</summary>
    public float LabelMean { get; }

    /// <summary>Target standard deviation.</summary>
    public float LabelStd { get; }

    /// <summary>The network (use <see cref="Predict"/> for thread-safe access).</summary>
    public SequenceNetwork<float> Network => _pool.Prototype;

    internal SequenceRegressionModel(SequenceNetwork<float> network, int featuresPerStep, float[] mean, float[] std, float labelMean, float labelStd)
    {
        _pool = new NetworkPool(network);
        FeaturesPerStep = featuresPerStep; FeatureMean = mean; FeatureStd = std; LabelMean = labelMean; LabelStd = labelStd;
    }

    /// <summary>Standardized copy of a window [steps × F].</summary>
    internal float[] Scale(ReadOnlySpan<float> window)
    {
        int f = FeaturesPerStep;
        if (window.Length == 0 || window.Length % f != 0)
            throw new ArgumentException($"A window has {window.Length} values; expected a positive multiple of {f} features per step.", nameof(window));
        var x = new float[window.Length];
        for (int i = 0; i < x.Length; i++)
        {
            if (!float.IsFinite(window[i])) throw new ArgumentException($"Value {i} of the window is {window[i]}; inputs must be finite.", nameof(window));
            x[i] = (window[i] - FeatureMean[i % f]) / FeatureStd[i % f];
        }
        return x;
    }

    /// <summary>Predicts the target for one window [steps × F] (oldest step first).</summary>
    public float Predict(ReadOnlySpan<float> window)
    {
        var x = Scale(window);
        var net = _pool.Rent();
        try { return net.Forward(SequenceBatch<float>.FromFeatures(x, 1, x.Length / FeaturesPerStep, FeaturesPerStep))[0] * LabelStd + LabelMean; }
        finally { _pool.Return(net); }
    }

    /// <summary>
    /// Multi-step forecast of a univariate series (F = 1) by feeding predictions back: predicts the value after the last
    /// <paramref name="window"/> values of <paramref name="history"/>, appends it, and repeats <paramref name="horizon"/> times.
    /// </summary>
    public float[] Forecast(ReadOnlySpan<float> history, int window, int horizon)
    {
        if (FeaturesPerStep != 1) throw new InvalidOperationException($"Forecast feeds predictions back into a univariate window; this model reads {FeaturesPerStep} features per step.");
        if (window < 1 || history.Length < window) throw new ArgumentException($"The history has {history.Length} values; the window needs {window}.", nameof(history));
        if (horizon < 0) throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "The horizon must not be negative.");
        var series = history.ToArray().ToList();
        var result = new float[horizon];
        for (int h = 0; h < horizon; h++)
        {
            result[h] = Predict(series.Skip(series.Count - window).ToArray());
            series.Add(result[h]);
        }
        return result;
    }

    /// <summary>
    /// The sequence regressor inside a transformer: the one Fit returned, a pipeline holding it, or one that
    /// <c>mlContext.Model.Load</c> returned (e.g. to <see cref="Forecast"/> after loading).
    /// </summary>
    /// <exception cref="ArgumentException">The transformer holds no Rnn.MLNet sequence regressor.</exception>
    /// <exception cref="InvalidDataException">Its model is corrupt; the message says what is wrong.</exception>
    public static SequenceRegressionModel FromTransformer(ITransformer transformer) => ModelPersistence.Find<SequenceRegressionModel>(transformer);

    static string IPipelineModel<SequenceRegressionModel>.Kind => Kind;
    static string IPipelineModel<SequenceRegressionModel>.Description => "sequence regressor";
    static SequenceRegressionModel IPipelineModel<SequenceRegressionModel>.FromFile(ModelFile file) => FromFile(file);

    internal ModelFile ToFile()
    {
        var file = ModelFile.From(Network);
        file.Properties["kind"] = Kind;
        file.Properties["featuresPerStep"] = FeaturesPerStep.ToString(CultureInfo.InvariantCulture);
        file.Properties["labelMean"] = LabelMean.ToString("R", CultureInfo.InvariantCulture);
        file.Properties["labelStd"] = LabelStd.ToString("R", CultureInfo.InvariantCulture);
        file.Lists["featureMean"] = FeatureMean.Select(v => v.ToString("R", CultureInfo.InvariantCulture)).ToArray();
        file.Lists["featureStd"] = FeatureStd.Select(v => v.ToString("R", CultureInfo.InvariantCulture)).ToArray();
        return file;
    }

    internal static SequenceRegressionModel FromFile(ModelFile file)
    {
        string Prop(string k) => file.RequireProperty(k);
        static float Parse(string s) => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v) ? v : throw new InvalidDataException($"'{s}' is not a finite number.");
        if (Prop("kind") != Kind) throw new InvalidDataException($"The model is a '{Prop("kind")}', not a sequence regressor.");
        var net = file.CreateNetwork();
        int f = net.Options.FeatureSize;
        if (Prop("featuresPerStep") != f.ToString(CultureInfo.InvariantCulture)) throw new InvalidDataException("featuresPerStep does not match the network.");
        if (!file.Lists.TryGetValue("featureMean", out var mean) || !file.Lists.TryGetValue("featureStd", out var std) || mean.Length != f || std.Length != f)
            throw new InvalidDataException("The model lacks its input scaling.");
        var s = std.Select(Parse).ToArray();
        if (s.Any(v => v <= 0)) throw new InvalidDataException("A stored standard deviation is not positive.");
        float ls = Parse(Prop("labelStd"));
        if (ls <= 0) throw new InvalidDataException("The stored label standard deviation is not positive.");
        return new SequenceRegressionModel(net, f, mean.Select(Parse).ToArray(), s, Parse(Prop("labelMean")), ls);
    }
}
