using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.SequenceRegression;

/// <summary>
/// Options of the recurrent sequence regressor. Shared training settings are on <see cref="RnnTrainerOptions"/> (defaults
/// here: 1 layer, hidden 32, 100 epochs, batch 16, learning rate 3e-3).
/// </summary>
public sealed class RnnSequenceRegressorOptions : RnnTrainerOptions
{
    /// <summary>Sets this component's defaults.</summary>
    public RnnSequenceRegressorOptions()
    {
        HiddenSize = 32;
        Epochs = 100;
        BatchSize = 16;
    }

    /// <summary>Label column (Single).</summary>
    public string LabelColumnName { get; set; } = "Label";
    /// <summary>Window column: a vector of Single holding steps × <see cref="FeaturesPerStep"/> values, oldest step first.</summary>
    public string FeatureColumnName { get; set; } = "Features";
    /// <summary>Features per time step F (1 = univariate).</summary>
    public int FeaturesPerStep { get; set; } = 1;

    internal override void Validate()
    {
        if (string.IsNullOrEmpty(LabelColumnName) || string.IsNullOrEmpty(FeatureColumnName)) throw new ArgumentException("LabelColumnName and FeatureColumnName must be set.");
        if (FeaturesPerStep < 1) throw new ArgumentException($"FeaturesPerStep must be at least 1; got {FeaturesPerStep}.", nameof(FeaturesPerStep));
        base.Validate();
    }
}

/// <summary>
/// Trains a many-to-one recurrent regressor: each row's window of past values (and other features per step) → one Single.
/// Input scaling is learned at Fit and saved with the model. Adds <c>Score</c>, read by the regression evaluator.
/// </summary>
public sealed class RnnSequenceRegressor : IEstimator<RnnSequenceRegressionTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly MLContext _ml = new();
    private readonly RnnSequenceRegressorOptions _o;

    internal RnnSequenceRegressor(IHostEnvironment env, RnnSequenceRegressorOptions options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _o = options ?? throw new ArgumentNullException(nameof(options));
        _o.Validate();
    }

    /// <inheritdoc />
    public RnnSequenceRegressionTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains, validating on <paramref name="validation"/> each epoch.</summary>
    public RnnSequenceRegressionTransformer Fit(IDataView input, IDataView? validation)
    {
        var o = _o;
        var log = new TrainingLog(_env, "RnnSequenceRegressor", o.Progress);
        var (windows, labels) = Read(input, "training");
        if (windows.Count == 0) throw new ArgumentException($"The training data has no rows; cannot train on an empty set.", nameof(input));
        int f = o.FeaturesPerStep;
        var mean = new double[f]; var sq = new double[f]; var n = new long[f];
        foreach (var w in windows)
            for (int i = 0; i < w.Length; i++) { mean[i % f] += w[i]; sq[i % f] += (double)w[i] * w[i]; n[i % f]++; }
        var fm = new float[f]; var fs = new float[f];
        for (int j = 0; j < f; j++)
        {
            double m = mean[j] / n[j];
            fm[j] = (float)m;
            fs[j] = (float)System.Math.Max(System.Math.Sqrt(System.Math.Max(sq[j] / n[j] - m * m, 0)), 1e-6);
        }
        double lm = labels.Average();
        float ls = (float)System.Math.Max(System.Math.Sqrt(labels.Average(v => (v - lm) * (v - lm))), 1e-6);

        var rng = new Rng(o.ResolveSeed(log));
        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = o.Cell, Input = InputKind.Dense, FeatureSize = f, HiddenSize = o.HiddenSize, Layers = o.Layers, Dropout = o.Dropout,
            OutputSize = 1, Output = OutputMode.LastStep,
        });
        Initializer.Initialize(net, InitScheme.PyTorchDefault, rng.NextUInt64());
        var model = new SequenceRegressionModel(net, f, fm, fs, (float)lm, ls);
        LabeledSequence Example(float[] w, float y) => new() { Features = model.Scale(w), Values = new[] { (y - (float)lm) / ls } };
        var examples = windows.Select((w, i) => Example(w, labels[i])).ToList();
        List<LabeledSequence>? valid = null;
        if (validation is not null)
        {
            var (vw, vl) = Read(validation, "validation");
            valid = vw.Select((w, i) => Example(w, vl[i])).ToList();
        }
        else if (o.ValidationFraction > 0)
        {
            int nv = System.Math.Max(1, (int)(examples.Count * o.ValidationFraction));
            valid = examples.GetRange(examples.Count - nv, nv);
            examples = examples.GetRange(0, examples.Count - nv);
        }
        log.Info($"Training a {o.Cell} sequence regressor: {examples.Count} windows, {net.Parameters.Count} parameters.");
        var result = SequenceFitter.Fit(net, LossKind.MeanSquaredError, examples, valid, o.FitOptions(rng.NextUInt64(), log.Epoch));
        log.Checkpoints(result);
        o.CancellationToken.ThrowIfCancellationRequested();
        model = new SequenceRegressionModel(net.ForInference(), f, fm, fs, (float)lm, ls); // without training's gradients and buffers
        return new RnnSequenceRegressionTransformer(_ml, model, input.Schema, o.FeatureColumnName, result);
    }

    private (List<float[]> Windows, List<float> Labels) Read(IDataView data, string what)
    {
        var o = _o;
        var featCol = SchemaChecks.Require(data.Schema, o.FeatureColumnName, "features", "a vector of Single (a window of past values)",
            t => t is VectorDataViewType v && v.ItemType == NumberDataViewType.Single);
        var labelCol = SchemaChecks.Require(data.Schema, o.LabelColumnName, "label", "Single", t => t == NumberDataViewType.Single);
        var windows = new List<float[]>();
        var labels = new List<float>();
        using var cursor = data.GetRowCursor(new[] { featCol, labelCol });
        var getF = cursor.GetGetter<VBuffer<float>>(featCol);
        var getL = cursor.GetGetter<float>(labelCol);
        VBuffer<float> buf = default;
        float y = 0;
        long row = -1;
        while (cursor.MoveNext())
        {
            row++;
            getF(ref buf);
            getL(ref y);
            var w = buf.DenseValues().ToArray();
            if (w.Length == 0 || w.Length % o.FeaturesPerStep != 0)
                throw new ArgumentException($"Row {row} of the {what} data: column '{o.FeatureColumnName}' has {w.Length} values; expected a positive multiple of FeaturesPerStep = {o.FeaturesPerStep}.");
            int bad = Array.FindIndex(w, v => !float.IsFinite(v));
            if (bad >= 0) throw new ArgumentException($"Row {row} of the {what} data: value {bad} of column '{o.FeatureColumnName}' is {w[bad]}; expected finite numbers.");
            if (!float.IsFinite(y)) throw new ArgumentException($"Row {row} of the {what} data: label '{o.LabelColumnName}' is {y}; expected a finite number.");
            windows.Add(w);
            labels.Add(y);
        }
        return (windows, labels);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.Require(inputSchema, _o.FeatureColumnName, "features", "a vector of Single (a window of past values)",
            c => c.Kind != SchemaShape.Column.VectorKind.Scalar && c.ItemType == NumberDataViewType.Single);
        return RnnSequenceRegressionTransformer.BuildChain(_ml, "", _o.FeatureColumnName).GetOutputSchema(inputSchema);
    }
}

/// <summary>A fitted sequence regressor in a pipeline (adds <c>Score</c>); <see cref="Model"/> forecasts several steps.</summary>
public sealed class RnnSequenceRegressionTransformer : ChainedTransformer
{
    /// <summary>The model.</summary>
    public SequenceRegressionModel Model { get; }

    /// <summary>Training history.</summary>
    public FitResult TrainingResult { get; }

    internal RnnSequenceRegressionTransformer(MLContext ml, SequenceRegressionModel model, DataViewSchema schema, string featureColumn, FitResult result)
        : base(BuildChain(ml, ModelPersistence.Encode(model.ToFile()), featureColumn).Fit(new EmptyDataView(schema)))
    {
        Model = model;
        TrainingResult = result;
        ModelPersistence.Adopt(Chain, model);
    }

    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, string featureColumn) =>
        PipelineChain.Finish(ml, PipelineChain.VectorHead(ml, payload, ml.Transforms.CopyColumns(PipelineChain.FeaturesColumn, featureColumn))
            .Append(new SequenceRegressorMapping().Estimator(ml)), PipelineChain.HeadColumns(PipelineChain.FeaturesColumn));
}
