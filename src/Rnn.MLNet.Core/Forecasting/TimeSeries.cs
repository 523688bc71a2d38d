using System;

namespace Rnn.MLNet.Forecasting;

/// <summary>
/// One series to train on or forecast from: its values in time order (any real numbers) and, optionally, per-step
/// covariates known in advance (calendar features, planned prices): [steps, K], row t for value t. To forecast H steps
/// with covariates, give H more rows than values (the future's covariates).
/// </summary>
public sealed class TimeSeries
{
    /// <summary>Name of the series (the series-id column's value).</summary>
    public string Id { get; }

    /// <summary>Values, oldest first.</summary>
    public double[] Values { get; }

    /// <summary>Covariates [rows, K] (rows ≥ values), or null.</summary>
    public double[,]? Covariates { get; }

    /// <summary>Creates a series; throws naming the first value that is not a finite number.</summary>
    public TimeSeries(string id, double[] values, double[,]? covariates = null)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0) throw new ArgumentException($"Series '{id}' has no values.", nameof(values));
        for (int t = 0; t < values.Length; t++)
            if (!double.IsFinite(values[t])) throw new ArgumentException($"Series '{id}': value {t} is {values[t]}; values must be finite numbers.", nameof(values));
        if (covariates is not null)
        {
            if (covariates.GetLength(0) < values.Length)
                throw new ArgumentException($"Series '{id}' has {values.Length} values but covariates for only {covariates.GetLength(0)} steps.", nameof(covariates));
            for (int t = 0; t < covariates.GetLength(0); t++)
                for (int k = 0; k < covariates.GetLength(1); k++)
                    if (!double.IsFinite(covariates[t, k])) throw new ArgumentException($"Series '{id}': covariate {k} of step {t} is {covariates[t, k]}; covariates must be finite.", nameof(covariates));
        }
        Id = id; Values = values; Covariates = covariates;
    }

    /// <summary>Number of covariates K (0 without).</summary>
    public int CovariateCount => Covariates?.GetLength(1) ?? 0;
}

/// <summary>A forecast of one series: the median path and the interval bounds, H values each.</summary>
/// <param name="Id">The series.</param>
/// <param name="Point">Point forecast (the ensemble's median of the median output).</param>
/// <param name="Lower">Lower bound of the prediction interval.</param>
/// <param name="Upper">Upper bound of the prediction interval.</param>
public sealed record SeriesForecast(string Id, double[] Point, double[] Lower, double[] Upper);
