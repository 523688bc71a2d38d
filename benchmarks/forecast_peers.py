#!/usr/bin/python3
"""Classical peers for the forecasting samples, on the same data and cut, with the same metrics.

Single series (the TimeSeriesForecast sample's CSV and cut: the last H values held out):
  /usr/bin/python3 benchmarks/forecast_peers.py --csv F --horizon H [--period P]
M4 layout (the M4Forecast sample's files):
  /usr/bin/python3 benchmarks/forecast_peers.py --m4-train F --m4-test F [--period 24] [--horizon 48]

Methods: naive, seasonal naive, Naive2 (M4), statsmodels Holt-Winters with additive damped trend (seasonal multiplicative
when every value is positive, else additive; "HW damped"), statsmodels ThetaModel (Theta), and for single series also
SARIMA(1,1,1)(0,1,1)_P ("SARIMA"; periods above 52 skipped). Without --period the period comes from the dates'
spacing (hourly 24, daily 7, weekly 52, monthly 12, quarterly 4, else 1). Prints a table and, last, one JSON line.
Needs numpy, pandas and statsmodels (Debian: apt-get install python3-statsmodels).
"""
import argparse
import csv
import json
import math
import sys
import time
import warnings

import numpy as np


def smape(y, f):
    den = np.abs(y) + np.abs(f)
    return float(np.mean(np.where(den > 0, 200.0 * np.abs(y - f) / np.where(den > 0, den, 1), 0.0)))


def mase_scale(x, m):
    if len(x) <= m:
        m = 1
    return float(np.mean(np.abs(x[m:] - x[:-m])))


def mase(x, y, f, m):
    s = mase_scale(x, m)
    e = float(np.mean(np.abs(y - f)))
    return e / s if s > 0 else (0.0 if e == 0 else float("inf"))


def rmse(y, f):
    return float(np.sqrt(np.mean((y - f) ** 2)))


def mae(y, f):
    return float(np.mean(np.abs(y - f)))


# ------------------------------------------------------------------ M4 benchmarks (as ../shared/data/m4-hourly/baselines.py)
def seasonality_test(x, m):
    n = len(x)
    if m <= 1 or n < 3 * m or m > math.floor(10 * math.log10(n)):
        return False
    d = x - x.mean()
    den = float(np.dot(d, d))
    if den <= 0:
        return False
    r = np.array([np.dot(d[:-k], d[k:]) / den for k in range(1, m + 1)])
    clim = 1.645 / math.sqrt(n) * np.sqrt(np.cumsum(np.r_[1.0, 2.0 * r ** 2]))
    return bool(abs(r[m - 1]) > clim[m - 1])


def seasonal_indices(x, m):
    n = len(x)
    w = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    h = len(w) // 2
    trend = np.full(n, np.nan)
    trend[h:n - h] = np.convolve(x, w, mode="valid")
    ratio = x / trend
    figure = np.array([np.nanmean(ratio[i::m]) for i in range(m)])
    figure = figure / figure.mean()
    return np.tile(figure, n // m + 1)[:n]


def naive(x, h):
    return np.full(h, x[-1])


def snaive(x, h, m):
    return np.tile(x[-m:], h // m + 1)[:h] if 1 < m <= len(x) else naive(x, h)


def naive2(x, h, m):
    if m > 1 and seasonality_test(x, m):
        s = seasonal_indices(x, m)
        out = np.tile(s[-m:], h // m + 1)[:h]
        return np.full(h, x[-1] / s[-1]) * out
    return naive(x, h)


# ------------------------------------------------------------------ statsmodels peers
def hw_damped(x, h, m):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    seasonal = None
    if m > 1 and len(x) >= 2 * m + 2:
        seasonal = "mul" if np.all(x > 0) else "add"
    try:
        # a long season (daily data with a yearly cycle) has too many initial states to estimate: heuristic start
        init = "estimated" if m <= 52 else "heuristic"
        fit = ExponentialSmoothing(x, trend="add", damped_trend=True, seasonal=seasonal,
                                   seasonal_periods=m if seasonal else None, initialization_method=init).fit()
        f = np.asarray(fit.forecast(h))
        if np.all(np.isfinite(f)):
            return f
    except Exception as e:  # a failed fit falls back to the additive model, then to seasonal naive
        print(f"  HW damped failed ({type(e).__name__}: {e}); trying additive", file=sys.stderr)
    try:
        fit = ExponentialSmoothing(x, trend="add", damped_trend=True, seasonal="add" if seasonal else None,
                                   seasonal_periods=m if seasonal else None, initialization_method="estimated").fit()
        return np.asarray(fit.forecast(h))
    except Exception:
        return snaive(x, h, m)


def theta(x, h, m):
    from statsmodels.tsa.forecasting.theta import ThetaModel
    try:
        deseason = m > 1 and len(x) >= 2 * m
        method = "multiplicative" if np.all(x > 0) else "additive"
        res = ThetaModel(x, period=m if m > 1 else None, deseasonalize=deseason, method=method).fit()
        return np.asarray(res.forecast(h))
    except Exception as e:
        print(f"  Theta failed ({type(e).__name__}: {e}); using seasonal naive", file=sys.stderr)
        return snaive(x, h, m)


def sarima(x, h, m):
    from statsmodels.tsa.statespace.sarimax import SARIMAX
    if m > 52:
        raise ValueError(f"a seasonal ARIMA with period {m} is impractical (state of size ~{m}); skipped")
    seasonal = (0, 1, 1, m) if m > 1 and len(x) >= 3 * m else (0, 0, 0, 0)
    res = SARIMAX(x, order=(1, 1, 1), seasonal_order=seasonal).fit(disp=False)
    return np.asarray(res.forecast(h))


# ------------------------------------------------------------------ data
def read_series_csv(path):
    dates, values = [], []
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        for i, row in enumerate(rows, start=2):
            if not row or all(c.strip() == "" for c in row):
                continue
            dates.append(row[0].strip())
            values.append(float(row[-1]))
    return dates, np.array(values)


def period_from_dates(dates):
    import pandas as pd
    try:
        t = pd.to_datetime(pd.Series(dates))
    except Exception:
        return 1
    step = t.diff().dropna().median()
    days = step / pd.Timedelta(days=1)
    for upper, p in ((1 / 24 * 1.5, 24), (1.5, 7), (10, 52), (45, 12), (120, 4)):
        if days <= upper:
            return p
    return 1


def read_m4(path):
    ids, series = [], []
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        for row in rows:
            ids.append(row[0])
            series.append(np.array([float(v) for v in row[1:] if v != ""]))
    return ids, series


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv")
    ap.add_argument("--m4-train")
    ap.add_argument("--m4-test")
    ap.add_argument("--horizon", type=int)
    ap.add_argument("--period", type=int)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.time()
    if args.csv:
        dates, v = read_series_csv(args.csv)
        h = args.horizon or 24
        m = args.period or period_from_dates(dates)
        x, y = v[:-h], v[-h:]
        methods = {"naive": lambda: naive(x, h), "seasonal_naive": lambda: snaive(x, h, m), "naive2": lambda: naive2(x, h, m),
                   "hw_damped": lambda: hw_damped(x, h, m), "theta": lambda: theta(x, h, m), "sarima": lambda: sarima(x, h, m)}
        out = {}
        print(f"{args.csv}: {len(v)} values, last {h} held out, period {m}")
        print(f"{'method':<16}{'RMSE':>12}{'MAE':>12}{'sMAPE':>9}{'MASE':>9}")
        for name, fn in methods.items():
            try:
                f = fn()
            except Exception as e:
                print(f"{name:<16} failed: {type(e).__name__}: {e}")
                continue
            out[name] = {"rmse": round(rmse(y, f), 4), "mae": round(mae(y, f), 4), "smape": round(smape(y, f), 4), "mase": round(mase(x, y, f, m), 4)}
            print(f"{name:<16}{out[name]['rmse']:>12.4f}{out[name]['mae']:>12.4f}{out[name]['smape']:>9.3f}{out[name]['mase']:>9.3f}")
        out["period"] = m
        out["seconds"] = round(time.time() - t0, 1)
        print(json.dumps(out))
        return
    ids, train = read_m4(args.m4_train)
    ids2, test = read_m4(args.m4_test)
    if ids != ids2:
        sys.exit("the train and test files list different series")
    m = args.period or 24
    h = args.horizon or len(test[0])
    test = [y[:h] for y in test]
    methods = {"naive": lambda x: naive(x, h), "seasonal_naive": lambda x: snaive(x, h, m), "naive2": lambda x: naive2(x, h, m),
               "hw_damped": lambda x: hw_damped(x, h, m), "theta": lambda x: theta(x, h, m)}
    res, secs = {}, {}
    for name, fn in methods.items():
        t1 = time.time()
        fc = [fn(x) for x in train]
        secs[name] = time.time() - t1
        res[name] = (float(np.mean([smape(y, f) for y, f in zip(test, fc)])), float(np.mean([mase(x, y, f, m) for x, y, f in zip(train, test, fc)])))
    s2, m2 = res["naive2"]
    out = {}
    print(f"{len(train)} series, horizon {h}, period {m}")
    print(f"{'method':<16}{'sMAPE':>9}{'MASE':>9}{'OWA':>9}{'seconds':>9}")
    for name, (s, q) in res.items():
        owa = 0.5 * (s / s2 + q / m2)
        out[name] = {"smape": round(s, 3), "mase": round(q, 3), "owa": round(owa, 3)}
        print(f"{name:<16}{s:>9.3f}{q:>9.3f}{owa:>9.3f}{secs[name]:>9.1f}")
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
