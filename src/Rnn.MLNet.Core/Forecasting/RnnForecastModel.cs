using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Rnn.MLNet.Models;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Forecasting;

/// <summary>
/// A trained forecaster (<see cref="RnnForecaster.Fit"/>): an ensemble of recurrent networks sharing one
/// <c>WindowLayout</c>, the median and interval quantiles each network outputs, and the tail of every training series
/// so that <see cref="Forecast(string, int)"/> works after loading. Saved as one model file (<see cref="ToModelFile"/>).
/// </summary>
/// <remarks>Forecasting is thread-safe: each call uses its own clones of the networks.</remarks>
public sealed class RnnForecastModel
{
    internal WindowLayout Layout { get; }                // member 0's; the others differ only in their input length
    private readonly (WindowLayout Layout, SequenceNetwork<float> Network)[] _members;
    private readonly double[] _quantiles;                 // [median, lower, upper]
    private readonly Dictionary<string, double[]> _tails; // raw values of each training series' end
    private readonly List<string> _ids;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Id, int Horizon), SeriesForecast> _byId = new();

    /// <summary>The members (their layouts and networks), for the ONNX export.</summary>
    internal IReadOnlyList<(WindowLayout Layout, SequenceNetwork<float> Network)> Members => _members;

    /// <summary>Seasonal period P the model uses (given or detected).</summary>
    public int SeasonalPeriod => Layout.Period;

    /// <summary>Values each member reads before the forecast origin.</summary>
    public IReadOnlyList<int> InputLengths => _members.Select(m => m.Layout.InputLength).ToArray();

    /// <summary>Steps one network pass forecasts (the horizon when direct, one season when recursive).</summary>
    public int OutputSteps => Layout.OutputSteps;

    /// <summary>Horizon the model was trained for.</summary>
    public int Horizon { get; }

    /// <summary>Whether values are modelled on the log scale.</summary>
    public bool LogScale => Layout.Log;

    /// <summary>Covariates each step needs (0: none).</summary>
    public int CovariateCount => Layout.Covariates;

    /// <summary>True when the validation cut chose the baseline (seasonal naive, or the mean of the last seasons) over the network; the intervals still come from the network.</summary>
    public bool UsesBaseline { get; }

    /// <summary>Factor the network's interval half-widths are multiplied by (calibrated on the validation cut).</summary>
    public double IntervalScale { get; }

    /// <summary>Nominal coverage of [lower, upper].</summary>
    public double IntervalCoverage => _quantiles[2] - _quantiles[1];

    /// <summary>Number of ensemble members.</summary>
    public int EnsembleSize => _members.Length;

    /// <summary>Ids of the training series whose ends the model keeps (for <see cref="Forecast(string, int)"/>).</summary>
    public IReadOnlyList<string> SeriesIds => _ids;

    /// <summary>Validation score of the selection run (½·(sMAPE ratio + MASE ratio) against seasonal naive; below 1 beats it).</summary>
    public double ValidationScore { get; }

    internal RnnForecastModel(IReadOnlyList<(WindowLayout Layout, SequenceNetwork<float> Network)> members, double[] quantiles, int horizon,
        bool usesSeasonalNaive, double intervalScale, double validationScore, IEnumerable<(string Id, double[] Tail)> tails)
    {
        _members = members.ToArray();
        Layout = _members[0].Layout;
        _quantiles = quantiles;
        Horizon = horizon;
        UsesBaseline = usesSeasonalNaive;
        IntervalScale = intervalScale;
        ValidationScore = validationScore;
        _tails = new Dictionary<string, double[]>(StringComparer.Ordinal);
        _ids = new List<string>();
        foreach (var (id, tail) in tails)
            if (_tails.TryAdd(id, tail)) _ids.Add(id);
    }

    /// <summary>Forecasts <paramref name="horizon"/> steps after the end of the training series <paramref name="seriesId"/>.</summary>
    /// <exception cref="KeyNotFoundException">No training series has that id.</exception>
    public SeriesForecast Forecast(string seriesId, int horizon)
    {
        ArgumentNullException.ThrowIfNull(seriesId);
        if (!_tails.TryGetValue(seriesId, out double[]? tail))
            throw new KeyNotFoundException($"The model has no series '{seriesId}'; it was trained on {_ids.Count} series ({string.Join(", ", _ids.Take(5))}{(_ids.Count > 5 ? ", …" : "")}). Pass the history instead.");
        if (Layout.Covariates > 0)
            throw new InvalidOperationException($"The model was trained with {Layout.Covariates} covariates: forecast with Forecast(TimeSeries, horizon), giving the history and the future steps' covariates.");
        return _byId.GetOrAdd((seriesId, horizon), key => Forecast(new TimeSeries(key.Id, tail), key.Horizon));
    }

    /// <summary>Forecasts <paramref name="horizon"/> steps after the end of <paramref name="history"/> (any series, seen or not).</summary>
    public SeriesForecast Forecast(TimeSeries history, int horizon) => Forecast(new[] { history }, horizon)[0];

    /// <summary>
    /// Forecasts every series in one batch per network pass. Beyond <see cref="OutputSteps"/> the median forecast is fed
    /// back as history (intervals then ignore the earlier steps' uncertainty).
    /// </summary>
    public SeriesForecast[] Forecast(IReadOnlyList<TimeSeries> series, int horizon)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (horizon < 1) throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "The horizon must be at least 1.");
        if (series.Count == 0) return Array.Empty<SeriesForecast>();
        var clones = _members.Select(m => (m.Layout, m.Network.CloneForInference())).ToArray();
        return Predict(clones, _quantiles, UsesBaseline, IntervalScale, series, horizon);
    }

    /// <summary>
    /// The forecasting loop shared by <see cref="Forecast(IReadOnlyList{TimeSeries}, int)"/> and the validation checks
    /// during training. Each member reads its own input length; the members' quantiles are combined by their median in
    /// model scale, step by step.
    /// </summary>
    internal static SeriesForecast[] Predict(IReadOnlyList<(WindowLayout Layout, SequenceNetwork<float> Network)> members, double[] quantiles,
        bool seasonalNaive, double intervalScale, IReadOnlyList<TimeSeries> series, int horizon)
    {
        var first = members[0].Layout;
        int n = series.Count, o = first.OutputSteps, q = quantiles.Length;
        var history = new List<double>[n];
        for (int i = 0; i < n; i++)
        {
            var s = series[i] ?? throw new ArgumentException($"Series {i} is null.", nameof(series));
            if (first.Covariates > 0 && s.CovariateCount != first.Covariates)
                throw new ArgumentException($"Series '{s.Id}' has {s.CovariateCount} covariates; the model was trained with {first.Covariates}.", nameof(series));
            history[i] = new List<double>(s.Values.Length + horizon);
            for (int t = 0; t < s.Values.Length; t++)
            {
                if (first.Log && !(s.Values[t] > 0))
                    throw new ArgumentException($"Series '{s.Id}': value {t} is {s.Values[t]}, but the model works on the log scale (trained on positive series); every history value must be positive.", nameof(series));
                history[i].Add(first.ToModel(s.Values[t]));
            }
        }
        var point = new double[n][]; var lower = new double[n][]; var upper = new double[n][];
        for (int i = 0; i < n; i++) { point[i] = new double[horizon]; lower[i] = new double[horizon]; upper[i] = new double[horizon]; }

        int m = members.Count;
        var med = new double[m][]; var lo = new double[m][]; var hi = new double[m][];   // [member][i·O + k], model scale
        for (int j = 0; j < m; j++) { med[j] = new double[n * o]; lo[j] = new double[n * o]; hi[j] = new double[n * o]; }
        var baseline = new double[n * o];
        var column = new double[m];
        for (int done = 0; done < horizon; done += o)
        {
            for (int j = 0; j < m; j++)
            {
                var (layout, network) = members[j];
                int steps = layout.Steps, f = layout.FeatureSize;
                var features = new float[n * steps * f];
                var scale = new double[n];
                for (int i = 0; i < n; i++)
                    scale[i] = layout.Encode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history[i]), history[i].Count,
                        series[i].Covariates, features.AsSpan(i * steps * f, steps * f), baseline.AsSpan(i * o, o));
                var output = network.Forward(SequenceBatch<float>.FromFeatures(features, n, steps, f));
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < o; k++)
                    {
                        // output[i, k, :]: median, lower, upper quantile of step k, in units of the window's scale d
                        // around the baseline b: value = b + d·output.
                        int at = (i * o + k) * q;
                        double b = baseline[i * o + k], d = scale[i], c = output[at];
                        med[j][i * o + k] = b + d * c;
                        lo[j][i * o + k] = b + d * System.Math.Min(0, output[at + 1] - c);
                        hi[j][i * o + k] = b + d * System.Math.Max(0, output[at + 2] - c);
                    }
            }
            int block = System.Math.Min(o, horizon - done);
            for (int i = 0; i < n; i++)
                for (int k = 0; k < block; k++)
                {
                    int at = i * o + k;
                    double Combine(double[][] v) { for (int j = 0; j < m; j++) column[j] = v[j][at]; return Median(column); }
                    double network = Combine(med), b = baseline[at];
                    double center = seasonalNaive ? b : network;
                    // lo/hi hold b + d·(lower − median) etc.; their offsets from b are the half-widths.
                    double down = Combine(lo) - b, up = Combine(hi) - b;
                    point[i][done + k] = first.FromModel(center);
                    lower[i][done + k] = first.FromModel(center + intervalScale * down);
                    upper[i][done + k] = first.FromModel(center + intervalScale * up);
                    history[i].Add(center);
                }
        }
        var result = new SeriesForecast[n];
        for (int i = 0; i < n; i++) result[i] = new SeriesForecast(series[i].Id, point[i], lower[i], upper[i]);
        return result;
    }

    private static double Median(double[] values)
    {
        if (values.Length == 1) return values[0];
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        int h = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[h] : 0.5 * (sorted[h - 1] + sorted[h]);
    }

    // ------------------------------------------------------------------ persistence
    // One ModelFile: member 0's network and weights; properties "forecast.*" (layout, quantiles, horizon, flags);
    // list "forecast.members" = base64 model files of members 1..M−1; "forecast.ids" and "forecast.tails" = each training
    // series' id and its last values (round-trip text, space separated).

    /// <summary>The whole model as one model file (see <see cref="ModelFile"/>; Save/ToBytes from there).</summary>
    public ModelFile ToModelFile()
    {
        var inv = CultureInfo.InvariantCulture;
        var file = ModelFile.From(_members[0].Network);
        file.Properties["kind"] = "rnn-forecaster";
        Layout.Save(file.Properties);
        file.Properties["forecast.quantiles"] = string.Join(" ", _quantiles.Select(x => x.ToString("R", inv)));
        file.Properties["forecast.horizon"] = Horizon.ToString(inv);
        file.Properties["forecast.seasonalNaive"] = UsesBaseline ? "1" : "0";
        file.Properties["forecast.intervalScale"] = IntervalScale.ToString("R", inv);
        file.Properties["forecast.validationScore"] = ValidationScore.ToString("R", inv);
        file.Lists["forecast.members"] = _members.Skip(1).Select(m => Convert.ToBase64String(ModelFile.From(m.Network).ToBytes())).ToArray();
        file.Lists["forecast.memberPastSteps"] = _members.Select(m => m.Layout.PastSteps.ToString(inv)).ToArray();
        file.Lists["forecast.ids"] = _ids.ToArray();
        file.Lists["forecast.tails"] = _ids.Select(id => string.Join(" ", _tails[id].Select(x => x.ToString("R", inv)))).ToArray();
        return file;
    }

    /// <summary>Reads a model written by <see cref="ToModelFile"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a forecaster or its settings are corrupt.</exception>
    public static RnnForecastModel FromModelFile(ModelFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var inv = CultureInfo.InvariantCulture;
        if (!file.Properties.TryGetValue("kind", out string? kind) || kind != "rnn-forecaster")
            throw new InvalidDataException($"The model file holds a '{kind ?? "(unnamed)"}' model, not an rnn-forecaster.");
        try
        {
            var layout = WindowLayout.Load(file.RequireProperty);
            var networks = new List<SequenceNetwork<float>> { file.CreateNetwork() };
            if (file.Lists.TryGetValue("forecast.members", out string[]? extra))
                networks.AddRange(extra.Select(b => ModelFile.Read(Convert.FromBase64String(b)).CreateNetwork()));
            string[] pastSteps = file.Lists.TryGetValue("forecast.memberPastSteps", out string[]? p) ? p : Array.Empty<string>();
            if (pastSteps.Length != networks.Count) throw new InvalidDataException($"The model has {networks.Count} member networks but {pastSteps.Length} member input lengths.");
            var members = networks.Select((net, j) => (layout.WithPastSteps(int.Parse(pastSteps[j], NumberStyles.Integer, inv)), net)).ToList();
            double[] quantiles = file.RequireProperty("forecast.quantiles").Split(' ').Select(x => double.Parse(x, NumberStyles.Float, inv)).ToArray();
            int horizon = int.Parse(file.RequireProperty("forecast.horizon"), NumberStyles.Integer, inv);
            string[] ids = file.Lists.TryGetValue("forecast.ids", out string[]? i) ? i : Array.Empty<string>();
            string[] tails = file.Lists.TryGetValue("forecast.tails", out string[]? t) ? t : Array.Empty<string>();
            if (ids.Length != tails.Length) throw new InvalidDataException($"The model keeps {ids.Length} series ids but {tails.Length} series tails.");
            if (quantiles.Length != 3) throw new InvalidDataException($"The model has {quantiles.Length} quantiles; expected 3.");
            foreach (var (memberLayout, net) in members)
                if (net.Options.FeatureSize != memberLayout.FeatureSize || net.Options.OutputSize != memberLayout.OutputSteps * quantiles.Length)
                    throw new InvalidDataException("A member network's input or output size does not match the window layout.");
            double intervalScale = double.Parse(file.RequireProperty("forecast.intervalScale"), NumberStyles.Float, inv);
            if (!(intervalScale > 0) || !double.IsFinite(intervalScale)) throw new InvalidDataException($"The interval scale {intervalScale} is not a positive number.");
            return new RnnForecastModel(members, quantiles, horizon, file.RequireProperty("forecast.seasonalNaive") == "1", intervalScale,
                double.Parse(file.RequireProperty("forecast.validationScore"), NumberStyles.Float, inv),
                ids.Zip(tails, (id, text) => (id, text.Length == 0 ? Array.Empty<double>() : text.Split(' ').Select(x => double.Parse(x, NumberStyles.Float, inv)).ToArray())));
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException or KeyNotFoundException)
        {
            throw new InvalidDataException("The forecaster's settings in the model file are corrupt: " + e.Message, e);
        }
    }
}
