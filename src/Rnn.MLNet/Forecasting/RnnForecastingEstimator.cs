using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Infrastructure;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Forecasting;

/// <summary>
/// Options of <c>mlContext.Forecasting.ForecastByRnn</c>. Not derived from <see cref="RnnTrainerOptions"/>: the forecaster
/// chooses its training length, validation (the last H values of each series) and ensemble itself, with one Adam-trained
/// recurrent layer, so most shared settings (layers, dropout, optimizer, epochs, validation fraction, schedule, epoch
/// reports) would not apply; the ones that do keep the shared names (Cell, HiddenSize, BatchSize, LearningRate,
/// TimeLimit, Seed, CancellationToken).
/// </summary>
public sealed class RnnForecastingOptions
{
    /// <summary>Column of the series values (Single or Double), rows in time order within each series.</summary>
    public string ValueColumnName { get; set; } = "Value";

    /// <summary>Column naming the series of each row (Text); null = the whole data is one series. All series train one global model.</summary>
    public string? SeriesIdColumnName { get; set; }

    /// <summary>Per-step covariate columns (Single or Double), known in advance (calendar, planned events); empty = none.</summary>
    public string[] CovariateColumnNames { get; set; } = Array.Empty<string>();

    /// <summary>Output column: the point forecast, a vector of <see cref="Horizon"/> Single.</summary>
    public string OutputColumnName { get; set; } = "Forecast";

    /// <summary>Output column: lower bounds of the prediction interval (as ForecastBySsa's confidenceLowerBoundColumn).</summary>
    public string LowerBoundColumnName { get; set; } = "LowerBound";

    /// <summary>Output column: upper bounds of the prediction interval.</summary>
    public string UpperBoundColumnName { get; set; } = "UpperBound";

    /// <summary>Steps to forecast.</summary>
    public int Horizon { get; set; } = 1;

    /// <summary>Seasonal period; null = detected from the data.</summary>
    public int? SeasonalPeriod { get; set; }

    /// <summary>Values read before the origin; null = chosen from the series lengths (up to 7 seasons).</summary>
    public int? InputLength { get; set; }

    /// <summary>Direct, recursive, or chosen from the data.</summary>
    public ForecastStrategy Strategy { get; set; } = ForecastStrategy.Auto;

    /// <summary>Recurrent cell.</summary>
    public CellType Cell { get; set; } = CellType.Gru;

    /// <summary>Hidden size.</summary>
    public int HiddenSize { get; set; } = 64;

    /// <summary>Ensemble members.</summary>
    public int EnsembleSize { get; set; } = 3;

    /// <summary>Probability the interval should hold (ForecastBySsa's confidenceLevel).</summary>
    public double IntervalCoverage { get; set; } = 0.9;

    /// <summary>Windows per mini-batch (as <see cref="RnnTrainerOptions.BatchSize"/>; the forecaster's default).</summary>
    public int BatchSize { get; set; } = 128;

    /// <summary>Adam learning rate (as <see cref="RnnTrainerOptions.LearningRate"/>; the forecaster's default).</summary>
    public double LearningRate { get; set; } = 2e-3;

    /// <summary>Most epochs of the selection run.</summary>
    public int MaxEpochs { get; set; } = 60;

    /// <summary>Wall-clock limit of the fit; null = none.</summary>
    public TimeSpan? TimeLimit { get; set; }

    /// <summary>Seed (null: from the MLContext).</summary>
    public int? Seed { get; set; }

    /// <summary>Training messages (also sent to mlContext.Log).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>Cancellation between batches.</summary>
    public CancellationToken CancellationToken { get; set; }
}

/// <summary>
/// A global recurrent forecaster as an ML.NET estimator: <c>mlContext.Forecasting.ForecastByRnn(...)</c>. Fit reads the
/// value column (and the series id and covariate columns) in row order, one series per id, and trains one network for all
/// (<see cref="RnnForecaster"/>). The transformer adds, for the series of each row, the forecast of the
/// <see cref="RnnForecastingOptions.Horizon"/> steps after that series' training data, with interval bounds:
/// <list type="table">
/// <listheader><term>column</term><description>type</description></listheader>
/// <item><term>Forecast</term><description>vector of Single, H values</description></item>
/// <item><term>LowerBound, UpperBound</term><description>vector of Single, H values</description></item>
/// </list>
/// For a new or extended history use <c>RnnForecastModel.FromTransformer(transformer)</c>
/// (<see cref="RnnForecastModelExtensions"/>) and <see cref="RnnForecastModel.Forecast(TimeSeries, int)"/>, also on a
/// model loaded from the .zip.
/// </summary>
public sealed class RnnForecastingEstimator : IEstimator<RnnForecastingTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly MLContext _ml = new();
    private readonly RnnForecastingOptions _o;

    internal RnnForecastingEstimator(IHostEnvironment env, RnnForecastingOptions options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _o = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(_o.ValueColumnName, nameof(options.ValueColumnName));
        if (_o.Horizon < 1) throw new ArgumentException($"Horizon must be at least 1; got {_o.Horizon}.", nameof(options));
    }

    /// <inheritdoc />
    public RnnForecastingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _o;
        var log = new TrainingLog(_env, "RnnForecaster", null);
        var series = Read(input);
        var options = new RnnForecasterOptions
        {
            Horizon = o.Horizon, SeasonalPeriod = o.SeasonalPeriod, InputLength = o.InputLength, Strategy = o.Strategy, Cell = o.Cell,
            HiddenSize = o.HiddenSize, BatchSize = o.BatchSize, LearningRate = o.LearningRate, EnsembleSize = o.EnsembleSize, IntervalCoverage = o.IntervalCoverage, MaxEpochs = o.MaxEpochs,
            TimeLimit = o.TimeLimit, Seed = o.Seed ?? (int)(log.NextSeed() & 0x7FFFFFFF), CancellationToken = o.CancellationToken,
            Log = message => { log.Info(message); o.Log?.Invoke(message); },
        };
        var model = RnnForecaster.Fit(series, options);
        return new RnnForecastingTransformer(_ml, model, input.Schema, o);
    }

    /// <summary>Groups the rows into series (by id, in order of first appearance), checking every value.</summary>
    private List<TimeSeries> Read(IDataView data)
    {
        var o = _o;
        static bool IsNumber(DataViewType t) => t == NumberDataViewType.Single || t == NumberDataViewType.Double;
        var valueCol = SchemaChecks.Require(data.Schema, o.ValueColumnName, "value", "Single or Double", IsNumber);
        var idCol = o.SeriesIdColumnName is null ? (DataViewSchema.Column?)null : SchemaChecks.Require(data.Schema, o.SeriesIdColumnName, "series id", "Text", SchemaChecks.IsText);
        var covCols = (o.CovariateColumnNames ?? Array.Empty<string>()).Select(c => SchemaChecks.Require(data.Schema, c, "covariate", "Single or Double", IsNumber)).ToArray();
        var columns = new List<DataViewSchema.Column> { valueCol };
        if (idCol is { } ic) columns.Add(ic);
        columns.AddRange(covCols);
        var values = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var covariates = new Dictionary<string, List<double[]>>(StringComparer.Ordinal);
        var order = new List<string>();
        using var cursor = data.GetRowCursor(columns);
        var getValue = NumberGetter(cursor, valueCol);
        var getCovariates = covCols.Select(c => NumberGetter(cursor, c)).ToArray();
        ValueGetter<ReadOnlyMemory<char>>? getId = idCol is { } idc ? cursor.GetGetter<ReadOnlyMemory<char>>(idc) : null;
        ReadOnlyMemory<char> id = default;
        long row = -1;
        while (cursor.MoveNext())
        {
            row++;
            string key = "";
            if (getId is not null) { getId(ref id); key = id.ToString(); }
            double v = getValue();
            if (!double.IsFinite(v)) throw new ArgumentException($"Row {row}: '{o.ValueColumnName}' is {v}; values must be finite numbers.");
            var c = new double[covCols.Length];
            for (int k = 0; k < c.Length; k++)
            {
                c[k] = getCovariates[k]();
                if (!double.IsFinite(c[k])) throw new ArgumentException($"Row {row}: covariate '{covCols[k].Name}' is {c[k]}; covariates must be finite numbers.");
            }
            if (!values.TryGetValue(key, out var list))
            {
                values[key] = list = new List<double>();
                covariates[key] = new List<double[]>();
                order.Add(key);
            }
            list.Add(v);
            covariates[key].Add(c);
        }
        if (order.Count == 0) throw new ArgumentException("The training data has no rows; cannot train on an empty set.");
        return order.Select(key =>
        {
            double[,]? cov = null;
            if (covCols.Length > 0)
            {
                var rows = covariates[key];
                cov = new double[rows.Count, covCols.Length];
                for (int t = 0; t < rows.Count; t++) for (int k = 0; k < covCols.Length; k++) cov[t, k] = rows[t][k];
            }
            return new TimeSeries(key, values[key].ToArray(), cov);
        }).ToList();
    }

    private static Func<double> NumberGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        if (column.Type == NumberDataViewType.Double) { var g = cursor.GetGetter<double>(column); double d = 0; return () => { g(ref d); return d; }; }
        var f = cursor.GetGetter<float>(column);
        float x = 0;
        return () => { f(ref x); return x; };
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.Require(inputSchema, _o.ValueColumnName, "value", "Single or Double",
            c => c.Kind == SchemaShape.Column.VectorKind.Scalar && (c.ItemType == NumberDataViewType.Single || c.ItemType == NumberDataViewType.Double));
        if (_o.SeriesIdColumnName is not null) SchemaChecks.Require(inputSchema, _o.SeriesIdColumnName, "series id", "Text", SchemaChecks.IsTextShape);
        return RnnForecastingTransformer.BuildChain(_ml, "", _o).GetOutputSchema(inputSchema);
    }
}

/// <summary>A fitted forecaster in a pipeline (adds Forecast, LowerBound, UpperBound); <see cref="Model"/> forecasts any history.</summary>
public sealed class RnnForecastingTransformer : ChainedTransformer
{
    /// <summary>The trained forecaster.</summary>
    public RnnForecastModel Model { get; }

    internal RnnForecastingTransformer(MLContext ml, RnnForecastModel model, DataViewSchema schema, RnnForecastingOptions options)
        : base(BuildChain(ml, ModelPersistence.Encode(model.ToModelFile()), options).Fit(new EmptyDataView(schema)))
    {
        Model = model;
        ModelPersistence.Adopt(Chain, new ForecastPipelineModel(model));
    }

    // The twin chain: the series id (or "" for one series) → RnnMLNet.Text, the payload beside it, the forecast mapping,
    // its outputs copied to the user's column names, the temporaries dropped.
    internal static EstimatorChain<ITransformer> BuildChain(MLContext ml, string payload, RnnForecastingOptions o)
    {
        IEstimator<ITransformer> id = o.SeriesIdColumnName is null
            ? ml.Transforms.Expression(PipelineChain.TextColumn, "x => \"\"", o.ValueColumnName)
            : ml.Transforms.CopyColumns(PipelineChain.TextColumn, o.SeriesIdColumnName);
        var chain = PipelineChain.VectorHead(ml, payload, id)
            .Append(new ForecastMapping().Estimator(ml))
            .Append<ITransformer>(ml.Transforms.CopyColumns(o.OutputColumnName, ForecastOutput.ForecastColumn))
            .Append<ITransformer>(ml.Transforms.CopyColumns(o.LowerBoundColumnName, ForecastOutput.LowerColumn))
            .Append<ITransformer>(ml.Transforms.CopyColumns(o.UpperBoundColumnName, ForecastOutput.UpperColumn));
        return PipelineChain.Finish(ml, chain, new[]
        {
            PipelineChain.TextColumn, PipelineChain.ConstantColumn, PipelineChain.PayloadColumn,
            ForecastOutput.ForecastColumn, ForecastOutput.LowerColumn, ForecastOutput.UpperColumn,
        });
    }
}

/// <summary>
/// <c>RnnForecastModel.FromTransformer(transformer)</c>: the ML.NET layer's way back to the forecaster, as every
/// component's <c>XModel.FromTransformer</c> (the core <see cref="RnnForecastModel"/> knows no ML.NET, hence an extension).
/// </summary>
public static class RnnForecastModelExtensions
{
    extension(RnnForecastModel)
    {
        /// <summary>
        /// The forecaster inside a transformer: the one Fit returned, a pipeline holding it, or one that
        /// <c>mlContext.Model.Load</c> returned (e.g. to forecast a new history after loading).
        /// </summary>
        /// <exception cref="ArgumentException">The transformer holds no Rnn.MLNet forecaster.</exception>
        /// <exception cref="System.IO.InvalidDataException">Its model is corrupt; the message says what is wrong.</exception>
        public static RnnForecastModel FromTransformer(ITransformer transformer) =>
            transformer is RnnForecastingTransformer t ? t.Model : ModelPersistence.Find<ForecastPipelineModel>(transformer).Model;
    }
}

/// <summary>The forecaster as it travels in a pipeline's payload (kind <c>rnn-forecaster</c>).</summary>
internal sealed class ForecastPipelineModel(RnnForecastModel model) : IPipelineModel<ForecastPipelineModel>
{
    public RnnForecastModel Model { get; } = model;

    static string IPipelineModel<ForecastPipelineModel>.Kind => "rnn-forecaster";
    static string IPipelineModel<ForecastPipelineModel>.Description => "forecaster";
    static ForecastPipelineModel IPipelineModel<ForecastPipelineModel>.FromFile(ModelFile file) => new(RnnForecastModel.FromModelFile(file));
}

/// <summary>CustomMapping input of the forecaster: the series id and the model payload.</summary>
internal sealed class ForecastInput : IPayloadRow
{
    [ColumnName(PipelineChain.TextColumn)] public ReadOnlyMemory<char> SeriesId { get; set; }
    [ColumnName(PipelineChain.PayloadColumn)] public ReadOnlyMemory<char> Model { get; set; }
}

/// <summary>CustomMapping output of the forecaster: H values each.</summary>
internal sealed class ForecastOutput
{
    internal const string ForecastColumn = "RnnMLNet.Forecast", LowerColumn = "RnnMLNet.Lower", UpperColumn = "RnnMLNet.Upper";

    [ColumnName(ForecastColumn)] public float[] Forecast { get; set; } = Array.Empty<float>();
    [ColumnName(LowerColumn)] public float[] LowerBound { get; set; } = Array.Empty<float>();
    [ColumnName(UpperColumn)] public float[] UpperBound { get; set; } = Array.Empty<float>();
}

/// <summary>The forecast of the row's series after its training data (contract <c>Rnn.MLNet.Forecaster.v1</c>).</summary>
[CustomMappingFactoryAttribute("Rnn.MLNet.Forecaster.v1")]
internal sealed class ForecastMapping : RnnMapping<ForecastInput, ForecastPipelineModel, ForecastOutput>
{
    protected override void Map(ForecastPipelineModel model, ForecastInput input, ForecastOutput output)
    {
        var f = model.Model.Forecast(input.SeriesId.ToString(), model.Model.Horizon);
        output.Forecast = Array.ConvertAll(f.Point, x => (float)x);
        output.LowerBound = Array.ConvertAll(f.Lower, x => (float)x);
        output.UpperBound = Array.ConvertAll(f.Upper, x => (float)x);
    }
}
