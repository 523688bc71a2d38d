using System;
using System.Threading;
using Rnn.MLNet.Cells;

namespace Rnn.MLNet.Forecasting;

/// <summary>How a forecaster produces the H steps of a forecast.</summary>
public enum ForecastStrategy
{
    /// <summary>Direct when the training windows are plentiful, recursive when the horizon leaves too few of them.</summary>
    Auto,

    /// <summary>One network output per future step: all H steps at once (MQ-RNN style).</summary>
    Direct,

    /// <summary>The network forecasts one season (or one step when there is no season) and is fed its own median forecasts.</summary>
    Recursive,
}

/// <summary>Whether values are modelled on the log scale.</summary>
public enum ValueTransform
{
    /// <summary>Log when every training value of every series is positive, else none.</summary>
    Auto,

    /// <summary>Raw values (any real numbers).</summary>
    None,

    /// <summary>Natural log (every value must be positive).</summary>
    Log,
}

/// <summary>Settings of <see cref="RnnForecaster"/>. Defaults are the ones measured in <c>docs/forecasting.md</c>.</summary>
public sealed class RnnForecasterOptions
{
    /// <summary>Steps to forecast (H).</summary>
    public int Horizon { get; set; } = 1;

    /// <summary>Seasonal period (24 for hourly data with a daily cycle, 12 for monthly, 7 for daily with a weekly cycle); null = detected from the autocorrelation of the training series (<see cref="SeasonalPeriod.Detect"/>); 1 = none.</summary>
    public int? SeasonalPeriod { get; set; }

    /// <summary>Values the network reads before the forecast origin; null = up to 7 seasons, as many as the series lengths allow.</summary>
    public int? InputLength { get; set; }

    /// <summary>Direct (all H steps at once), recursive, or chosen from the amount of data.</summary>
    public ForecastStrategy Strategy { get; set; } = ForecastStrategy.Auto;

    /// <summary>Log scale or raw values.</summary>
    public ValueTransform Transform { get; set; } = ValueTransform.Auto;

    /// <summary>Recurrent cell.</summary>
    public CellType Cell { get; set; } = CellType.Gru;

    /// <summary>Hidden size of the recurrent layer.</summary>
    public int HiddenSize { get; set; } = 64;

    /// <summary>Windows per mini-batch.</summary>
    public int BatchSize { get; set; } = 128;

    /// <summary>Adam learning rate.</summary>
    public double LearningRate { get; set; } = 2e-3;

    /// <summary>Most passes over the training windows while choosing the training length on the validation cut.</summary>
    public int MaxEpochs { get; set; } = 60;

    /// <summary>Validation checks without improvement before the selection run stops.</summary>
    public int Patience { get; set; } = 6;

    /// <summary>Members of the final ensemble (the forecast is their per-step median).</summary>
    public int EnsembleSize { get; set; } = 3;

    /// <summary>Probability the interval [lower, upper] should hold (the network learns the two quantiles (1 ± p) / 2).</summary>
    public double IntervalCoverage { get; set; } = 0.9;

    /// <summary>Fall back to the baseline (seasonal naive, or the mean of the last seasons when that scores better) when the network does not beat it on the validation cut.</summary>
    public bool FallBackToBaseline { get; set; } = true;

    /// <summary>Wall-clock limit for the whole fit (selection run and ensemble); null = none.</summary>
    public TimeSpan? TimeLimit { get; set; }

    /// <summary>Seed for weights and window order.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Receives one line per validation check and per member (null: silent).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>Stops training between batches (throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Horizon < 1) throw new ArgumentException($"Horizon must be at least 1; got {Horizon}.", nameof(Horizon));
        if (SeasonalPeriod is < 1) throw new ArgumentException($"SeasonalPeriod must be at least 1 (1 = none) or null (detect); got {SeasonalPeriod}.", nameof(SeasonalPeriod));
        if (InputLength is < 1) throw new ArgumentException($"InputLength must be at least 1 or null; got {InputLength}.", nameof(InputLength));
        if (HiddenSize < 1) throw new ArgumentException($"HiddenSize must be at least 1; got {HiddenSize}.", nameof(HiddenSize));
        if (BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1; got {BatchSize}.", nameof(BatchSize));
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"LearningRate must be positive; got {LearningRate}.", nameof(LearningRate));
        if (MaxEpochs < 1) throw new ArgumentException($"MaxEpochs must be at least 1; got {MaxEpochs}.", nameof(MaxEpochs));
        if (Patience < 1) throw new ArgumentException($"Patience must be at least 1; got {Patience}.", nameof(Patience));
        if (EnsembleSize < 1) throw new ArgumentException($"EnsembleSize must be at least 1; got {EnsembleSize}.", nameof(EnsembleSize));
        if (!(IntervalCoverage > 0 && IntervalCoverage < 1)) throw new ArgumentException($"IntervalCoverage must be in (0, 1); got {IntervalCoverage}.", nameof(IntervalCoverage));
        if (!Enum.IsDefined(Strategy)) throw new ArgumentException($"Unknown strategy {(int)Strategy}.", nameof(Strategy));
        if (!Enum.IsDefined(Transform)) throw new ArgumentException($"Unknown transform {(int)Transform}.", nameof(Transform));
    }

    /// <summary>A copy.</summary>
    public RnnForecasterOptions Clone() => (RnnForecasterOptions)MemberwiseClone();
}
