using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Rng = Rnn.MLNet.Math.Rng;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;

namespace Rnn.MLNet.Forecasting;

/// <summary>
/// Trains one global recurrent forecaster on one or many series (the way recurrent models won M4: every window of every
/// series trains the same network). Each window is normalized on its own (<c>WindowLayout</c>: the network predicts a
/// correction to the seasonal naive forecast in units of the window's seasonal variation), the loss is the pinball loss
/// of the median and of the interval's two quantiles (the median's is half the absolute error on the scaled values,
/// close to MASE), and all H steps come out of one pass (direct) unless the horizon leaves too few windows (recursive).
/// </summary>
/// <remarks>
/// Settings are chosen on the training data only: the last validation-length values of every series are held out, a
/// selection run trains on the rest and keeps the number of updates that scored best there (and, with
/// <see cref="RnnForecasterOptions.FallBackToBaseline"/>, checks the network beats the seasonal naive forecast);
/// then <see cref="RnnForecasterOptions.EnsembleSize"/> members train on all windows for that many updates (scaled by
/// the larger window count) with different seeds, and the forecast is their median.
/// </remarks>
public static class RnnForecaster
{
    private const double IntervalQuantileFloor = 1e-3;

    /// <summary>Trains on <paramref name="series"/> (each at least 2 values; all with the same covariates).</summary>
    public static RnnForecastModel Fit(IReadOnlyList<TimeSeries> series, RnnForecasterOptions options)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (series.Count == 0) throw new ArgumentException("No series to train on.", nameof(series));
        var clock = Stopwatch.StartNew();
        int k = series[0]?.CovariateCount ?? 0;
        for (int i = 0; i < series.Count; i++)
        {
            if (series[i] is null) throw new ArgumentException($"Series {i} is null.", nameof(series));
            if (series[i].Values.Length < 2) throw new ArgumentException($"Series '{series[i].Id}' has {series[i].Values.Length} value(s); at least 2 are needed to train.", nameof(series));
            if (series[i].CovariateCount != k) throw new ArgumentException($"Series '{series[i].Id}' has {series[i].CovariateCount} covariates; series '{series[0].Id}' has {k}. All series need the same covariates.", nameof(series));
        }
        var plan = Plan.Make(series, options, k);
        // Small data: smaller batches so that an epoch is several updates (at least 8 windows per batch).
        int batchSize = System.Math.Min(options.BatchSize, System.Math.Max(8, plan.SelectionWindows.Count / 8));
        options = options.Clone();
        options.BatchSize = batchSize;
        options.Log?.Invoke($"period {plan.Layout.Period}, input {plan.Layout.InputLength} values ({plan.Layout.PastSteps} steps of {plan.Layout.Chunk}), " +
            $"{(plan.Layout.OutputSteps >= options.Horizon ? "direct" : "recursive")} {plan.Layout.OutputSteps}-step output, validation on the last {plan.ValidationLength}, " +
            $"{(plan.Layout.Log ? "log" : "raw")} values; {plan.SelectionWindows.Count} selection windows, {plan.AllWindows.Count} in all");

        // 0. The baseline the network corrects: seasonal naive, or the mean of the last 2 or 3 seasons when that scores better
        // on the validation cut (noisy series, where one season is a noisy copy of the next).
        plan.ChooseBaseline(options.Log);

        // 1. Selection run: train on the windows before the validation cut, score the cut, keep the best update count.
        var selection = new MemberTrainer(plan, plan.Layout, options, options.Seed);
        double snaiveSmape = 0, snaiveMase = 0;
        var validationSeries = plan.ValidationSeries;
        foreach (var (train, actual, scale) in validationSeries)
        {
            double[] sn = Baselines.SeasonalNaive(train.Values, actual.Length, plan.Layout.Period);
            snaiveSmape += ForecastMetrics.Smape(actual, sn);
            snaiveMase += scale > 0 ? ForecastMetrics.Mae(actual, sn) / scale : 0;
        }
        SeriesForecast[] forecasts = Array.Empty<SeriesForecast>();
        double Score(SequenceNetwork<float> net)
        {
            if (validationSeries.Count == 0) return double.NaN;
            forecasts = RnnForecastModel.Predict(new[] { (plan.Layout, net) }, plan.Quantiles, false, 1, validationSeries.Select(v => v.Train).ToArray(), plan.ValidationLength);
            double s = 0, m = 0;
            for (int i = 0; i < forecasts.Length; i++)
            {
                var (_, actual, scale) = validationSeries[i];
                s += ForecastMetrics.Smape(actual, forecasts[i].Point);
                m += scale > 0 ? ForecastMetrics.Mae(actual, forecasts[i].Point) / scale : 0;
            }
            return 0.5 * (Ratio(s, snaiveSmape) + Ratio(m, snaiveMase));
        }

        double bestScore = double.PositiveInfinity, keptScore = double.PositiveInfinity, intervalScale = 1;
        long bestUpdates = 0;
        int sinceBest = 0;
        long updatesPerEpoch = System.Math.Max(1, (plan.SelectionWindows.Count + options.BatchSize - 1) / options.BatchSize);
        long checkEvery = System.Math.Min(updatesPerEpoch, 250);
        long maxUpdates = updatesPerEpoch * options.MaxEpochs;
        bool timeUp = false;
        float[] bestWeights = (float[])selection.Network.Parameters.Values.Clone();
        while (selection.Updates < maxUpdates)
        {
            selection.Train(plan.SelectionWindows, checkEvery, clock, options, ref timeUp);
            double score = Score(selection.Network);
            if (double.IsNaN(score))
            {
                // No series is long enough for a validation cut: train the full budget.
                bestUpdates = selection.Updates;
                selection.Network.Parameters.Values.CopyTo(bestWeights, 0);
                if (timeUp) break;
                continue;
            }
            options.Log?.Invoke($"  selection: {selection.Updates} updates ({(double)selection.Updates / updatesPerEpoch:F1} epochs), loss {selection.RecentLoss:F4}, validation score {score:F4} (seasonal naive = 1), {clock.Elapsed.TotalSeconds:F0} s");
            // Keep the latest check within 1% of the best score: on a noisy validation cut (one short series) an early dip
            // is often luck, and a longer-trained network as good on the cut is the safer choice.
            bool newBest = score < bestScore - 1e-4;
            bestScore = System.Math.Min(bestScore, score);
            if (score <= bestScore * 1.01)
            {
                bestUpdates = selection.Updates;
                keptScore = score;
                selection.Network.Parameters.Values.CopyTo(bestWeights, 0);
                intervalScale = IntervalScale(forecasts, validationSeries.Select(v => v.Actual).ToArray(), options.IntervalCoverage);
            }
            if (newBest) sinceBest = 0;
            else if (++sinceBest >= options.Patience) break;
            if (timeUp) break;
        }
        if (bestUpdates == 0) { bestUpdates = selection.Updates; selection.Network.Parameters.Values.CopyTo(bestWeights, 0); }
        double secondsPerStepUpdate = clock.Elapsed.TotalSeconds / System.Math.Max(1, selection.Updates) / plan.Layout.Steps;
        bool seasonalNaive = options.FallBackToBaseline && keptScore >= plan.BaselineScore;
        options.Log?.Invoke($"kept validation score {keptScore:F4} (best {bestScore:F4}) after {bestUpdates} updates, interval widths × {intervalScale:F2}{(seasonalNaive ? ": not better than the baseline, which is used for the point forecast" : "")}");

        // 2. Ensemble on all windows (the last values included) for the chosen number of updates, scaled to the larger set.
        long updates = System.Math.Max(1, (long)System.Math.Round(bestUpdates * (double)plan.AllWindows.Count / System.Math.Max(1, plan.SelectionWindows.Count)));
        // Member 1 is the selection network at its best, trained on on all windows (the cut included) for the remaining
        // updates. The others start afresh with other seeds and, unless InputLength is given, read further back (1.5, 2,
        // 1.25, 1.75 × the base length): the median of forecasts from different input lengths is steadier than any one.
        // A member that would not finish within the time limit (estimated from the selection run's speed) is skipped.
        bestWeights.CopyTo(selection.Network.Parameters.Values, 0);
        selection.Train(plan.AllWindows, System.Math.Max(updates - bestUpdates, checkEvery), clock, options, ref timeUp);
        var members = new List<(WindowLayout, SequenceNetwork<float>)> { (plan.Layout, selection.Network.ForInference()) }; // members keep weights, not training buffers
        options.Log?.Invoke($"  member 1: input {plan.Layout.InputLength}, the selection network + {System.Math.Max(updates - bestUpdates, checkEvery)} updates on all windows, {clock.Elapsed.TotalSeconds:F0} s");
        int count = seasonalNaive ? 1 : options.EnsembleSize;
        double[] factors = { 1, 1.5, 2, 1.25, 1.75 };
        for (int m = 1; m < count && !timeUp; m++)
        {
            var layout = options.InputLength is null ? plan.Layout.WithPastSteps((int)System.Math.Ceiling(plan.Layout.PastSteps * factors[m % factors.Length])) : plan.Layout;
            double estimate = secondsPerStepUpdate * updates * layout.Steps;
            if (options.TimeLimit is TimeSpan limit && clock.Elapsed.TotalSeconds + estimate > limit.TotalSeconds)
            {
                options.Log?.Invoke($"  member {m + 1}/{count} skipped: about {estimate:F0} s of training would pass the time limit");
                continue;
            }
            var member = new MemberTrainer(plan, layout, options, options.Seed + 1000 * (m + 1));
            member.Train(plan.AllWindows, updates, clock, options, ref timeUp);
            if (timeUp && member.Updates < updates) { options.Log?.Invoke($"  member {m + 1}/{count} dropped: the time limit came after {member.Updates} of {updates} updates"); break; }
            members.Add((layout, member.Network.ForInference()));
            options.Log?.Invoke($"  member {m + 1}/{count}: input {layout.InputLength}, {member.Updates} updates, loss {member.RecentLoss:F4}, {clock.Elapsed.TotalSeconds:F0} s");
        }
        int tailLength = members.Max(m => m.Item1.InputLength) + 2 * plan.Layout.Period;
        var tails = series.Select(s => (s.Id, s.Values[System.Math.Max(0, s.Values.Length - tailLength)..]));
        return new RnnForecastModel(members, plan.Quantiles, options.Horizon, seasonalNaive, intervalScale, keptScore, tails);
    }

    /// <summary>
    /// Split-conformal calibration of the intervals on the validation cut: the smallest factor c (0.5 … 20) such that
    /// [point − c·(point − lower), point + c·(upper − point)] holds the nominal share of the held-out values.
    /// </summary>
    private static double IntervalScale(SeriesForecast[] forecasts, double[][] actual, double coverage)
    {
        var needed = new List<double>();
        for (int i = 0; i < forecasts.Length; i++)
        {
            var f = forecasts[i];
            for (int t = 0; t < actual[i].Length; t++)
            {
                double y = actual[i][t], p = f.Point[t];
                double width = y >= p ? f.Upper[t] - p : p - f.Lower[t];
                needed.Add(System.Math.Abs(y - p) <= 0 ? 0 : width > 0 ? System.Math.Abs(y - p) / width : double.PositiveInfinity);
            }
        }
        if (needed.Count == 0) return 1;
        needed.Sort();
        double c = needed[System.Math.Min(needed.Count - 1, (int)System.Math.Ceiling(coverage * needed.Count) - 1)];
        return double.IsFinite(c) ? System.Math.Clamp(c, 0.5, 20) : 20;
    }

    private static double Ratio(double value, double reference) => reference > 0 ? value / reference : value > 0 ? 2 : 1;

    /// <summary>Everything decided from the data before training: period, layout, windows, validation cut.</summary>
    private sealed class Plan
    {
        public required WindowLayout Layout { get; set; }
        public double BaselineScore { get; private set; } = 1;   // the baseline's validation score (seasonal naive = 1)
        public required double[] Quantiles { get; init; }
        public required double[][] Values { get; init; }          // model-scale values of each series
        public required TimeSeries[] Series { get; init; }
        public required List<(int Series, int Origin)> SelectionWindows { get; init; }
        public required List<(int Series, int Origin)> AllWindows { get; init; }
        public required List<(TimeSeries Train, double[] Actual, double Scale)> ValidationSeries { get; init; }
        public required int ValidationLength { get; init; }

        public static Plan Make(IReadOnlyList<TimeSeries> series, RnnForecasterOptions o, int covariates)
        {
            int h = o.Horizon;
            int[] lengths = series.Select(s => s.Values.Length).OrderBy(x => x).ToArray();
            int median = lengths[lengths.Length / 2];
            int period = o.SeasonalPeriod ?? DetectPeriod(series);
            bool log = o.Transform == ValueTransform.Log || (o.Transform == ValueTransform.Auto && series.All(s => s.Values.All(v => v > 0)));
            if (o.Transform == ValueTransform.Log)
                foreach (var s in series)
                    for (int t = 0; t < s.Values.Length; t++)
                        if (!(s.Values[t] > 0)) throw new ArgumentException($"Transform is Log, but series '{s.Id}' has the value {s.Values[t]} at {t}; use None or Auto for series with zeros or negative values.");
            int chunk = WindowLayout.ChunkFor(period);
            int minOrigin(int inputLength) => System.Math.Min(inputLength, System.Math.Max(2 * period, 2));

            // Direct when the series leave enough windows with both the H-step target and an H-step validation cut.
            int directWindows = lengths.Sum(n => System.Math.Max(0, n - 2 * h - System.Math.Max(2 * period, 2) + 1));
            bool direct = o.Strategy == ForecastStrategy.Direct || (o.Strategy == ForecastStrategy.Auto && directWindows >= 48);
            int outputs = direct ? h : System.Math.Min(h, System.Math.Max(1, period));
            int validation = direct ? h : System.Math.Min(h, System.Math.Max(outputs, (median - outputs) / 3));

            // Input: up to 7 seasons (2 for seasons longer than 64 values), no more than half of what the median series
            // leaves after the validation cut and the targets, so the windows outnumber their own length.
            int inputLength;
            if (o.InputLength is int given) inputLength = given;
            else
            {
                int budget = System.Math.Max(1, (median - validation - outputs) / 2);
                if (period >= 2)
                {
                    int seasons = System.Math.Clamp(budget / period, 1, period <= 64 ? 7 : 2);
                    inputLength = seasons * period;
                }
                else inputLength = System.Math.Clamp(budget, 4, 28);
            }
            int steps = System.Math.Max(1, (inputLength + chunk - 1) / chunk);

            double[] mean = new double[covariates], sd = new double[covariates];
            if (covariates > 0)
            {
                for (int c = 0; c < covariates; c++)
                {
                    double sum = 0, sq = 0; long n = 0;
                    foreach (var s in series)
                        for (int t = 0; t < s.Values.Length; t++) { double x = s.Covariates![t, c]; sum += x; sq += x * x; n++; }
                    mean[c] = sum / n;
                    double var = sq / n - mean[c] * mean[c];
                    sd[c] = var > 1e-12 ? System.Math.Sqrt(var) : 1;
                }
            }
            var layout = new WindowLayout(period, chunk, steps, outputs, log, mean, sd);
            double lowerQ = (1 - o.IntervalCoverage) / 2;
            var quantiles = new[] { 0.5, System.Math.Max(IntervalQuantileFloor, lowerQ), System.Math.Min(1 - IntervalQuantileFloor, 1 - lowerQ) };

            var values = series.Select(s => s.Values.Select(layout.ToModel).ToArray()).ToArray();
            var selectionWindows = new List<(int, int)>();
            var allWindows = new List<(int, int)>();
            var validationSeries = new List<(TimeSeries, double[], double)>();
            int first = minOrigin(layout.InputLength);
            for (int i = 0; i < series.Count; i++)
            {
                int n = values[i].Length;
                for (int e = System.Math.Min(first, n - 1); e + outputs <= n; e++) allWindows.Add((i, e));
                int cut = n - validation;
                if (cut >= System.Math.Min(first, n - 1) + outputs && cut >= 2)
                {
                    for (int e = System.Math.Min(first, cut - 1); e + outputs <= cut; e++) selectionWindows.Add((i, e));
                    var train = new TimeSeries(series[i].Id, series[i].Values[..cut], series[i].Covariates);
                    validationSeries.Add((train, series[i].Values[cut..], ForecastMetrics.MaseScale(series[i].Values.AsSpan(0, cut), period)));
                }
            }
            if (allWindows.Count == 0)
            {
                // Too short for even one full target: train on what there is with a shorter output and recurse.
                throw new ArgumentException($"The series are too short for a {outputs}-step target (longest {lengths[^1]} values). Lower the horizon or pass Strategy = Recursive.");
            }
            if (selectionWindows.Count == 0) selectionWindows = allWindows;
            return new Plan
            {
                Layout = layout, Quantiles = quantiles, Values = values, Series = series.ToArray(), SelectionWindows = selectionWindows,
                AllWindows = allWindows, ValidationSeries = validationSeries, ValidationLength = validation,
            };
        }

        /// <summary>Picks the baseline seasons K ∈ {1, 2, 3} (those the median series holds twice over) with the best validation score.</summary>
        public void ChooseBaseline(Action<string>? log)
        {
            if (ValidationSeries.Count == 0 || Layout.Period < 2) return;
            int median = Series.Select(s => s.Values.Length).OrderBy(x => x).ElementAt(Series.Length / 2);
            double Score(WindowLayout layout, out double smape, out double mase)
            {
                smape = 0; mase = 0;
                foreach (var (train, actual, scale) in ValidationSeries)
                {
                    double[] v = train.Values.Select(layout.ToModel).ToArray();
                    var f = Enumerable.Range(0, actual.Length).Select(k => layout.FromModel(layout.Baseline(v, v.Length, k))).ToArray();
                    smape += ForecastMetrics.Smape(actual, f);
                    mase += scale > 0 ? ForecastMetrics.Mae(actual, f) / scale : 0;
                }
                return 0;
            }
            Score(Layout.WithBaselineSeasons(1), out double s1, out double m1);
            int best = 1;
            double bestScore = 1;
            for (int k = 2; k <= 3 && 2 * k * Layout.Period <= median - ValidationLength; k++)
            {
                Score(Layout.WithBaselineSeasons(k), out double sk, out double mk);
                double score = 0.5 * (Ratio(sk, s1) + Ratio(mk, m1));
                if (score < bestScore - 0.02) { best = k; bestScore = score; }
            }
            BaselineScore = bestScore;
            if (best > 1)
            {
                Layout = Layout.WithBaselineSeasons(best);
                log?.Invoke($"baseline: mean of the last {best} seasons (validation score {bestScore:F3} against seasonal naive)");
            }
        }

        /// <summary>The most common detected period over up to 25 series spread through the list.</summary>
        private static int DetectPeriod(IReadOnlyList<TimeSeries> series)
        {
            var votes = new Dictionary<int, int>();
            int stride = System.Math.Max(1, series.Count / 25);
            for (int i = 0; i < series.Count; i += stride)
            {
                int p = SeasonalPeriod.Detect(series[i].Values);
                votes[p] = votes.GetValueOrDefault(p) + 1;
            }
            return votes.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).First().Key;
        }
    }

    /// <summary>One network and its optimizer, trained for a given number of mini-batch updates over shuffled windows.</summary>
    private sealed class MemberTrainer
    {
        private readonly Plan _plan;
        private readonly WindowLayout _layout;
        private readonly Adam<float> _optimizer;
        private readonly Rng _rng;
        private readonly float[] _features, _targets, _dOut;
        private readonly double[] _baseline;
        private int[] _order = Array.Empty<int>();
        private int _position;
        private List<(int Series, int Origin)>? _windows;
        private double _lossSum;
        private int _lossCount;

        public SequenceNetwork<float> Network { get; }
        public long Updates { get; private set; }
        public double RecentLoss => _lossCount > 0 ? _lossSum / _lossCount : double.NaN;

        public MemberTrainer(Plan plan, WindowLayout layout, RnnForecasterOptions o, int seed)
        {
            _plan = plan;
            _layout = layout;
            Network = new SequenceNetwork<float>(new NetworkOptions
            {
                Cell = o.Cell, Input = InputKind.Dense, FeatureSize = layout.FeatureSize, HiddenSize = o.HiddenSize,
                Output = OutputMode.LastStep, OutputSize = layout.OutputSteps * plan.Quantiles.Length,
            });
            Initializer.Initialize(Network, InitScheme.PyTorchDefault, (ulong)seed);
            _optimizer = new Adam<float>(o.LearningRate);
            _rng = new Rng((ulong)seed ^ 0x9E3779B97F4A7C15UL);
            int b = o.BatchSize;
            _features = new float[b * layout.Steps * layout.FeatureSize];
            _targets = new float[b * layout.OutputSteps];
            _dOut = new float[b * layout.OutputSteps * plan.Quantiles.Length];
            _baseline = new double[layout.OutputSteps];
        }

        /// <summary>Runs <paramref name="count"/> more updates (fewer if the time limit passes; then <paramref name="timeUp"/> is set).</summary>
        public void Train(List<(int Series, int Origin)> windows, long count, Stopwatch clock, RnnForecasterOptions o, ref bool timeUp)
        {
            if (!ReferenceEquals(windows, _windows))
            {
                _windows = windows;
                _order = Enumerable.Range(0, windows.Count).ToArray();
                _position = _order.Length;
            }
            var layout = _layout;
            int o_ = layout.OutputSteps, steps = layout.Steps, f = layout.FeatureSize, q = _plan.Quantiles.Length;
            _lossSum = 0; _lossCount = 0;
            for (long u = 0; u < count; u++)
            {
                o.CancellationToken.ThrowIfCancellationRequested();
                if (o.TimeLimit is TimeSpan limit && clock.Elapsed >= limit) { timeUp = true; return; }
                int b = System.Math.Min(o.BatchSize, windows.Count);
                for (int r = 0; r < b; r++)
                {
                    if (_position >= _order.Length) { _rng.Shuffle(_order.AsSpan()); _position = 0; }
                    var (s, e) = windows[_order[_position++]];
                    double[] v = _plan.Values[s];
                    double d = layout.Encode(v, e, _plan.Series[s].Covariates, _features.AsSpan(r * steps * f, steps * f), _baseline);
                    for (int kk = 0; kk < o_; kk++) _targets[r * o_ + kk] = (float)((v[e + kk] - _baseline[kk]) / d);
                }
                var batch = SequenceBatch<float>.FromFeatures(b == o.BatchSize ? _features : _features[..(b * steps * f)], b, steps, f);
                var output = Network.Forward(batch, training: true);
                Span<float> dOut = _dOut.AsSpan(0, b * o_ * q);
                float loss = Losses.PinballLoss.Compute<float>(output, _targets.AsSpan(0, b * o_), _plan.Quantiles, dOut);
                if (!float.IsFinite(loss)) throw new TrainingDivergedException(Updates + 1, $"The forecaster's training loss became {loss} at update {Updates + 1}; lower the learning rate (now {o.LearningRate}).");
                Network.Parameters.Gradients.AsSpan().Clear();
                Network.Backward(dOut);
                GradientClipping.ClipByGlobalNorm(Network.Parameters, 1.0);
                _optimizer.Step(Network.Parameters);
                Updates++;
                _lossSum += loss; _lossCount++;
            }
        }
    }
}
