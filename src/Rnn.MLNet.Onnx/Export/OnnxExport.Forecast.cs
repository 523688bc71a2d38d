using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Rnn.MLNet.Forecasting;
using Rnn.MLNet.Onnx.Export;
using Rnn.MLNet.Onnx.Format;

namespace Rnn.MLNet.Onnx;

// Shape key (forecaster graph): B = batch, W = window (values read before the origin), P = seasonal period,
// Lj = member j's input length, Sj = Lj / C steps of C values, O = output steps (= the horizon), M = members.

public static partial class OnnxExport
{
    /// <summary>
    /// Writes a direct-mode forecaster as one graph: <see cref="OnnxNames.History"/> float [B, W] (the last W values of
    /// each series, oldest first, in the series' units; W is in the metadata as <c>rnn_mlnet.window</c>) →
    /// <see cref="OnnxNames.Forecast"/>, <see cref="OnnxNames.Lower"/>, <see cref="OnnxNames.Upper"/> float [B, O]: what
    /// <see cref="RnnForecastModel.Forecast(TimeSeries, int)"/> gives for a history of at least W values. Inside: log (when
    /// the model works on the log scale), each window's location and scale, the seasonal baseline, each member's recurrent
    /// network over its own window, its quantiles around the baseline, the median over the members, the calibrated
    /// interval, exp back.
    /// </summary>
    /// <exception cref="NotSupportedException">
    /// The model is recursive (forecasts more steps than one network pass gives: the loop feeds its own forecasts back) or
    /// uses covariates (future covariates are a second input the graph does not take); see docs/onnx.md.
    /// </exception>
    /// <remarks>
    /// <paramref name="options"/>: only <see cref="OnnxExportOptions.Opset"/> and <see cref="OnnxExportOptions.Metadata"/>
    /// apply; the caller's object is not changed. Forecasting a training series by its id stays in .NET: pass its last W
    /// values instead.
    /// </remarks>
    public static void ExportToOnnx(this RnnForecastModel model, Stream stream, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        options = options?.Clone() ?? new OnnxExportOptions();
        options.Validate();
        if (model.OutputSteps < model.Horizon)
            throw new NotSupportedException($"ONNX export of a recursive forecaster is not supported: one network pass forecasts {model.OutputSteps} steps and the horizon {model.Horizon} is reached by feeding forecasts back as history, a loop kept in .NET. Train with Strategy = ForecastStrategy.Direct to export.");
        if (model.CovariateCount > 0)
            throw new NotSupportedException($"ONNX export of a forecaster with covariates is not supported: the model was trained with {model.CovariateCount} covariates, whose history and future values the exported graph has no input for.");

        var layout = model.Members[0].Layout;
        int P = layout.Period, O = layout.OutputSteps, K = layout.BaselineSeasons, M = model.Members.Count;
        int W = System.Math.Max(model.Members.Max(m => m.Layout.InputLength), K * P);
        var g = new GraphBuilder();
        g.Input(OnnxNames.History, OnnxType.Float, "batch", W);
        string v = layout.Log ? g.Op("Log", new[] { OnnxNames.History }) : OnnxNames.History; // model scale [B, W]

        // Location m = mean of the last season; the scale's floor 1e-3·mean|last season| + 1e-8 (WindowLayout.Encode).
        string lastSeason = g.Slice(v, 1, W - P, W);
        string location = Mean(g, lastSeason, P);
        string floor = g.Op("Add", new[] { g.Op("Mul", new[] { Mean(g, g.Op("Abs", new[] { lastSeason }), P), g.Scalar("floor.ratio", 1e-3f) }), g.Scalar("floor.min", 1e-8f) });

        // Baseline b [B, O] = v · A: b_k averages v at step k's phase over the last K seasons (padded positions as Encode pads).
        var a = new float[W * O];
        for (int k = 0; k < O; k++)
            for (int j = 0; j < K; j++)
            {
                int t = W - P + k % P - j * P;
                if (t < 0) { t %= P; if (t < 0) t += P; }
                a[t * O + k] += 1f / K;
            }
        string baseline = g.Op("MatMul", new[] { v, g.Floats("baseline.weights", a, W, O) });

        var med = new string[M]; var lo = new string[M]; var hi = new string[M];
        for (int j = 0; j < M; j++)
        {
            var (ml, network) = model.Members[j];
            int L = ml.InputLength, lag = L >= 2 * P && W > P ? P : 1;
            // Scale d = max(mean |v_t − v_{t−lag}| over the member's window, floor) [B, 1].
            string scale = floor;
            if (L > lag)
            {
                string diff = g.Op("Sub", new[] { g.Slice(v, 1, W - L + lag, W), g.Slice(v, 1, W - L, W - lag) });
                scale = g.Op("Max", new[] { Mean(g, g.Op("Abs", new[] { diff }), L - lag), floor });
            }
            // Input [B, L] → clip((v − m) / d, ±30) → [S, B, C]
            string scaled = g.Op("Div", new[] { g.Op("Sub", new[] { g.Slice(v, 1, W - L, W), location }), scale });
            string clipped = g.Op("Clip", new[] { scaled, g.Scalar("clip.min", -30f), g.Scalar("clip.max", 30f) });
            string x = g.Transpose(g.Reshape(clipped, 0, ml.PastSteps, ml.Chunk), 1, 0, 2);
            string output = NetworkHead(g, network, x, $"member{j}");                  // [B, O·3]
            string q = g.Reshape(output, 0, O, 3);
            string c = g.Squeeze(g.Slice(q, 2, 0, 1), 2), l = g.Squeeze(g.Slice(q, 2, 1, 2), 2), u = g.Squeeze(g.Slice(q, 2, 2, 3), 2);
            // value = b + d·output: the median b + d·c, the ends b + d·min(0, lower − c) and b + d·max(0, upper − c).
            string zero = g.Scalar("zero", 0f);
            med[j] = g.Op("Add", new[] { baseline, g.Op("Mul", new[] { scale, c }) });
            lo[j] = g.Op("Add", new[] { baseline, g.Op("Mul", new[] { scale, g.Op("Min", new[] { g.Op("Sub", new[] { l, c }), zero }) }) });
            hi[j] = g.Op("Add", new[] { baseline, g.Op("Mul", new[] { scale, g.Op("Max", new[] { g.Op("Sub", new[] { u, c }), zero }) }) });
        }

        string networkMedian = MedianOfMembers(g, med);
        string center = model.UsesBaseline ? baseline : networkMedian;
        string intervalScale = g.Scalar("interval.scale", (float)model.IntervalScale);
        string down = g.Op("Mul", new[] { g.Op("Sub", new[] { MedianOfMembers(g, lo), baseline }), intervalScale });
        string up = g.Op("Mul", new[] { g.Op("Sub", new[] { MedianOfMembers(g, hi), baseline }), intervalScale });
        FromModel(g, center, layout.Log, OnnxNames.Forecast);
        FromModel(g, g.Op("Add", new[] { center, down }), layout.Log, OnnxNames.Lower);
        FromModel(g, g.Op("Add", new[] { center, up }), layout.Log, OnnxNames.Upper);
        foreach (string name in new[] { OnnxNames.Forecast, OnnxNames.Lower, OnnxNames.Upper }) g.Output(name, OnnxType.Float, "batch", O);

        var inv = CultureInfo.InvariantCulture;
        options.Metadata["rnn_mlnet.kind"] = "forecaster";
        options.Metadata["rnn_mlnet.window"] = W.ToString(inv);
        options.Metadata["rnn_mlnet.horizon"] = O.ToString(inv);
        options.Metadata["rnn_mlnet.seasonal_period"] = P.ToString(inv);
        options.Metadata["rnn_mlnet.log_scale"] = layout.Log ? "1" : "0";
        options.Metadata["rnn_mlnet.interval_coverage"] = model.IntervalCoverage.ToString("R", inv);
        options.Metadata["rnn_mlnet.members"] = M.ToString(inv);
        g.Graph.Name = "rnn_mlnet_forecaster";
        NewModel(g.Graph, options).WriteTo(stream);
    }

    /// <summary>Mean over axis 1 of [B, n] → [B, 1] (ReduceSum with an axes input works for opsets 13–21).</summary>
    private static string Mean(GraphBuilder g, string x, int n) =>
        g.Op("Mul", new[] { g.Op("ReduceSum", new[] { x, g.Int64s("axes", 1) }, null, OnnxAttribute.Int("keepdims", 1)), g.Scalar("inverse_count", 1f / n) });

    /// <summary>
    /// A last-step network over x [S, B, F] (full-length sequences) → its head [B, outputs]; initializers named after
    /// <paramref name="name"/> so several networks share one graph.
    /// </summary>
    private static string NetworkHead(GraphBuilder g, Rnn.MLNet.Models.SequenceNetwork<float> network, string x, string name)
    {
        var o = network.Options;
        if (o.Input != Rnn.MLNet.Models.InputKind.Dense || o.Output != Rnn.MLNet.Models.OutputMode.LastStep)
            throw new NotSupportedException($"A forecaster member must be a dense-input, last-step network; got {o.Input} input and {o.Output} output.");
        var p = network.Parameters;
        int L = o.Layers, D = o.Directions, H = o.HiddenSize;
        var rnn = RecurrentExport.Emit(g, new RecurrentExport.Stack(p, "rnn.", o.Cell, o.RecurrentInputSize, H, L, o.Bidirectional), x, "", null, null, name + ".rnn");
        string top = rnn.FinalHidden[L - 1];
        string z = D == 1 ? g.Squeeze(top, 0) : g.Reshape(g.Transpose(top, 1, 0, 2), 0, -1);
        return g.Linear(z, g.Floats(name + ".head.weight", p.Read(p["head.weight"]), o.OutputSize, D * H), g.Floats(name + ".head.bias", p.Read(p["head.bias"]), o.OutputSize));
    }

    /// <summary>
    /// The element-wise median of M tensors [B, O]: TopK (largest first) of the stack [M, B, O] along the members,
    /// k = ⌊M/2⌋ + 1, then the last value (odd M) or the mean of the last two (even M).
    /// </summary>
    private static string MedianOfMembers(GraphBuilder g, string[] members)
    {
        int m = members.Length;
        if (m == 1) return members[0];
        string stack = g.Concat(members.Select(x => g.Unsqueeze(x, 0)).ToArray(), 0);
        int k = m / 2 + 1;
        string top = g.Node("TopK", new[] { stack, g.Int64s("k", k) }, 2, null, OnnxAttribute.Int("axis", 0), OnnxAttribute.Int("largest", 1), OnnxAttribute.Int("sorted", 1))[0];
        int take = m % 2 == 1 ? 1 : 2;
        string middle = g.Slice(top, 0, k - take, k);
        string sum = g.Op("ReduceSum", new[] { middle, g.Int64s("axes", 0) }, null, OnnxAttribute.Int("keepdims", 0));
        return take == 1 ? sum : g.Op("Mul", new[] { sum, g.Scalar("half", 0.5f) });
    }

    /// <summary>Model scale → the series' units: exp(clip(x, ±700)) on the log scale (RnnForecastModel's FromModel), else x.</summary>
    private static void FromModel(GraphBuilder g, string x, bool log, string output)
    {
        if (log) g.Op("Exp", new[] { g.Op("Clip", new[] { x, g.Scalar("exp.min", -700f), g.Scalar("exp.max", 700f) }) }, output);
        else g.Op("Identity", new[] { x }, output);
    }
}
