using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Text.Json;
using Rnn.MLNet.Models;
using Rnn.MLNet.Training;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Optimizers, gradient clipping and learning-rate schedules against PyTorch 1.13 (Golden/optimizers.json, written by
/// Golden/generate_optimizer_golden.py): same initial parameters, same gradient sequence, same per-step learning rates,
/// every parameter compared after every step.
/// </summary>
public sealed class OptimizerTests
{
    /// <summary>Relative tolerance in double precision (PyTorch ran in float64 too; only the operation order differs).</summary>
    private const double DoubleTolerance = 1e-10;

    /// <summary>Relative tolerance when our optimizers run in float32 on the same data (the trainer's precision).</summary>
    private const double SingleTolerance = 1e-5;

    private readonly ITestOutputHelper _output;

    public OptimizerTests(ITestOutputHelper output) => _output = output;

    public static TheoryData<string> OptimizerCases => new()
    {
        "sgd",
        "sgd_weight_decay",
        "sgd_momentum",
        "sgd_nesterov_weight_decay",
        "sgd_momentum_lr_changes",
        "adam",
        "adam_custom_betas",
        "adam_l2",
        "adamw",
        "adamw_lr_changes",
        "adagrad",
        "rmsprop",
        "rmsprop_alpha_0_9",
    };

    public static TheoryData<string> ClippingCases => new()
    {
        "clipped",
        "clipped_barely",
        "below_max",
        "zero_grad",
    };

    public static TheoryData<string> ScheduleCases => new()
    {
        "step_lr_1",
        "step_lr_2",
        "step_lr_3",
        "plateau_p0",
        "plateau_p2",
        "plateau_p1_thr_min",
    };

    /// <summary>Edge cases where we knowingly differ from PyTorch by a negligible amount (tested by skipped facts below).</summary>
    private static readonly string[] KnownEdgeCases = { "norm_equals_max", "plateau_tiny_lr" };

    [Fact]
    public void GoldenFileCasesAreAllCovered()
    {
        JsonElement root = Golden.Value.RootElement;
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var data in new[] { OptimizerCases, ClippingCases, ScheduleCases })
            foreach (string name in data) listed.Add(name);
        listed.UnionWith(KnownEdgeCases);
        foreach (string section in new[] { "optimizers", "clipping", "schedules" })
            foreach (JsonElement c in root.GetProperty(section).EnumerateArray())
            {
                string name = c.GetProperty("name").GetString()!;
                Assert.True(listed.Remove(name), $"Golden case '{name}' ({section}) is not run by any test.");
            }
        Assert.True(listed.Count == 0, "Tests name cases the golden file lacks: " + string.Join(", ", listed));
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void OptimizerMatchesPyTorch(string name) => ReplayOptimizer<double>(name, DoubleTolerance);

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void OptimizerMatchesPyTorchInSinglePrecision(string name) => ReplayOptimizer<float>(name, SingleTolerance);

    [Theory]
    [MemberData(nameof(ClippingCases))]
    public static void ClipByGlobalNormMatchesPyTorch(string name) => CheckClipping(name);

    [Fact] // PyTorch scales by min(1, max_norm / (norm + 1e-6)) even when norm equals max_norm
    public static void ClipByGlobalNormMatchesPyTorchWhenNormEqualsMax() => CheckClipping("norm_equals_max");

    [Theory]
    [MemberData(nameof(ScheduleCases))]
    public void ScheduleMatchesPyTorch(string name) => CheckSchedule(name);

    [Fact] // PyTorch skips reductions smaller than eps = 1e-8
    public void ReduceOnPlateauMatchesPyTorchForTinyRates() => CheckSchedule("plateau_tiny_lr");

    [Fact]
    public void OptimizerFactoryUsesPyTorchDefaults()
    {
        // Defaults of our constructors must be PyTorch's (lr aside, which callers always set).
        var adam = new Adam<double>();
        Assert.Equal((1e-3, 0.9, 0.999, 1e-8, 0.0, false), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.WeightDecay, adam.Decoupled));
        var adagrad = new Adagrad<double>();
        Assert.Equal((1e-2, 1e-10), (adagrad.LearningRate, adagrad.Epsilon));
        var rms = new RmsProp<double>();
        Assert.Equal((1e-2, 0.99, 1e-8), (rms.LearningRate, rms.Alpha, rms.Epsilon));
        var sgd = new Sgd<double>(0.1);
        Assert.Equal((0.0, 0.0, false), (sgd.Momentum, sgd.WeightDecay, sgd.Nesterov));
        // torch.optim.AdamW's default weight_decay is 0.01.
        var adamw = Assert.IsType<Adam<double>>(Optimizers.Create<double>(OptimizerKind.AdamW, 1e-3));
        Assert.True(adamw.Decoupled);
        Assert.Equal(0.01, adamw.WeightDecay);
    }

    private void ReplayOptimizer<T>(string name, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        JsonElement c = FindCase("optimizers", name);
        var store = CreateStore<T>();
        double[] initial = ReadDoubles(c.GetProperty("initial"));
        Assert.True(initial.Length == store.Count, $"{name}: {initial.Length} initial values for {store.Count} parameters.");
        for (int i = 0; i < initial.Length; i++) store.Values[i] = T.CreateChecked(initial[i]);

        Optimizer<T> optimizer = CreateOptimizer<T>(c.GetProperty("kind").GetString()!, c.GetProperty("hyper"));
        double[] lrs = ReadDoubles(c.GetProperty("lrs"));
        JsonElement[] grads = c.GetProperty("grads").EnumerateArray().ToArray();
        JsonElement[] expected = c.GetProperty("params").EnumerateArray().ToArray();
        Assert.True(grads.Length == expected.Length && lrs.Length == expected.Length, $"{name}: inconsistent step counts in the golden file.");

        var failures = new List<string>();
        double worst = 0;
        for (int step = 0; step < expected.Length; step++)
        {
            double[] g = ReadDoubles(grads[step]);
            for (int i = 0; i < g.Length; i++) store.Gradients[i] = T.CreateChecked(g[i]);
            optimizer.LearningRate = lrs[step];
            optimizer.Step(store);
            Assert.Equal(step + 1, optimizer.StepCount);

            double[] torch = ReadDoubles(expected[step]);
            for (int i = 0; i < torch.Length; i++)
            {
                double ours = double.CreateChecked(store.Values[i]);
                double rel = System.Math.Abs(ours - torch[i]) / System.Math.Abs(torch[i]);
                if (!(rel <= worst)) worst = rel; // NaN counts as the worst
                if (!(rel <= tolerance) && failures.Count < 25)
                    failures.Add(string.Create(CultureInfo.InvariantCulture,
                        $"step {step + 1} (lr {lrs[step]:R}), index {i}: ours {ours:R}, torch {torch[i]:R}, relative difference {rel:G4}"));
            }
        }
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} ({typeof(T).Name}): worst relative difference {worst:G4}"));
        Assert.True(failures.Count == 0, string.Create(CultureInfo.InvariantCulture,
            $"{name} ({c.GetProperty("torch").GetString()}, {typeof(T).Name}): parameters differ from PyTorch beyond {tolerance:G} relative "
            + $"(worst {worst:G4}):{Environment.NewLine}  ") + string.Join(Environment.NewLine + "  ", failures));
    }

    private static void CheckClipping(string name)
    {
        JsonElement c = FindCase("clipping", name);
        var store = CreateStore<double>();
        double[] grad = ReadDoubles(c.GetProperty("grad"));
        grad.CopyTo(store.Gradients, 0);
        double maxNorm = c.GetProperty("max_norm").GetDouble(), torchNorm = c.GetProperty("norm").GetDouble();

        double norm = GradientClipping.ClipByGlobalNorm(store, maxNorm);

        var failures = new List<string>();
        if (!Close(norm, torchNorm, DoubleTolerance))
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"returned norm: ours {norm:R}, torch {torchNorm:R}"));
        double[] clipped = ReadDoubles(c.GetProperty("clipped"));
        for (int i = 0; i < clipped.Length; i++)
            if (!Close(store.Gradients[i], clipped[i], DoubleTolerance) && failures.Count < 25)
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"grad index {i}: ours {store.Gradients[i]:R}, torch {clipped[i]:R} (before clipping {grad[i]:R})"));
        Assert.True(failures.Count == 0, string.Create(CultureInfo.InvariantCulture,
            $"{name} (max_norm {maxNorm:R}, norm {torchNorm:R}): clip_grad_norm_ differs:{Environment.NewLine}  ")
            + string.Join(Environment.NewLine + "  ", failures));
    }

    private void CheckSchedule(string name)
    {
        JsonElement c = FindCase("schedules", name);
        JsonElement hyper = c.GetProperty("hyper");
        ILearningRateSchedule schedule = c.GetProperty("kind").GetString() switch
        {
            "StepLR" => new StepDecaySchedule(hyper.GetProperty("stepSize").GetInt32(), hyper.GetProperty("gamma").GetDouble()),
            "ReduceLROnPlateau" => new ReduceOnPlateauSchedule(hyper.GetProperty("factor").GetDouble(), hyper.GetProperty("patience").GetInt32(),
                hyper.GetProperty("threshold").GetDouble(), hyper.GetProperty("minRate").GetDouble()),
            var k => throw new InvalidOperationException($"Unknown schedule kind '{k}'."),
        };
        string settings = string.Join(", ", hyper.EnumerateObject().Select(p => p.Name + " = " + p.Value.GetRawText()));
        double[] losses = ReadDoubles(c.GetProperty("losses"));
        double[] torch = ReadDoubles(c.GetProperty("rates"));
        double rate = c.GetProperty("initial_lr").GetDouble();
        var ours = new double[losses.Length];
        // Our fit loop numbers epochs from 1 and calls NextRate after each; PyTorch's loop calls scheduler.step() after each.
        for (int epoch = 1; epoch <= losses.Length; epoch++) ours[epoch - 1] = rate = schedule.NextRate(epoch, rate, losses[epoch - 1]);

        _output.WriteLine($"{name} losses: {Join(losses)}");
        _output.WriteLine($"{name} torch:  {Join(torch)}");
        _output.WriteLine($"{name} ours:   {Join(ours)}");
        int first = Enumerable.Range(0, torch.Length).FirstOrDefault(i => !Close(ours[i], torch[i], 1e-12), -1);
        Assert.True(first < 0, string.Create(CultureInfo.InvariantCulture,
            $"{name} ({settings}): the rate after epoch {first + 1} is {(first < 0 ? 0 : ours[first]):R}, PyTorch's is {(first < 0 ? 0 : torch[first]):R}."
            + $"{Environment.NewLine}  rate after each epoch, torch: {Join(torch)}{Environment.NewLine}  rate after each epoch, ours:  {Join(ours)}"));
    }

    private static Optimizer<T> CreateOptimizer<T>(string kind, JsonElement h) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double D(string key) => h.GetProperty(key).GetDouble();
        return kind switch
        {
            "Sgd" => new Sgd<T>(D("learningRate"), D("momentum"), D("weightDecay"), h.GetProperty("nesterov").GetBoolean()),
            "Adam" => new Adam<T>(D("learningRate"), D("beta1"), D("beta2"), D("epsilon"), D("weightDecay"), h.GetProperty("decoupledWeightDecay").GetBoolean()),
            "Adagrad" => new Adagrad<T>(D("learningRate"), D("epsilon")),
            "RmsProp" => new RmsProp<T>(D("learningRate"), D("alpha"), D("epsilon")),
            _ => throw new InvalidOperationException($"Unknown optimizer kind '{kind}'."),
        };
    }

    [Fact]
    public void LargeStoresGiveTheSameStepsAndNormOnAnyThreadCount()
    {
        // 300,007 parameters: several ranges per thread and a tail that is not a whole vector.
        (float[] Values, double Norm) Train(OptimizerKind kind, int threads)
        {
            int saved = Math.Parallelism.MaxThreads;
            Math.Parallelism.MaxThreads = threads;
            try
            {
                var store = new ParameterStore<float>(new[] { ("a", new[] { 1000, 300 }), ("b", new[] { 7 }) });
                var rng = new Math.Rng(5);
                for (int i = 0; i < store.Count; i++) store.Values[i] = (float)rng.NextUniform(-1, 1);
                var optimizer = Optimizers.Create<float>(kind, 1e-2, weightDecay: 1e-3);
                double norm = 0;
                for (int step = 0; step < 3; step++)
                {
                    store.ZeroGradients();
                    for (int i = 0; i < store.Count; i++) store.Gradients[i] = (float)rng.NextUniform(-0.1, 0.1);
                    norm = GradientClipping.ClipByGlobalNorm(store, 1.0);
                    optimizer.Step(store);
                }
                return ((float[])store.Values.Clone(), norm);
            }
            finally { Math.Parallelism.MaxThreads = saved; }
        }
        foreach (OptimizerKind kind in Enum.GetValues<OptimizerKind>())
        {
            var one = Train(kind, 1);
            var three = Train(kind, 3);
            Assert.Equal(one.Norm, three.Norm);
            Assert.Equal(one.Values, three.Values);
            Assert.Equal(one.Values, Train(kind, 2).Values);
        }
        // The chunked norm against a double-precision sum of the same gradients.
        var g = new float[300_007];
        var r = new Math.Rng(9);
        double exact = 0;
        for (int i = 0; i < g.Length; i++) { g[i] = (float)r.NextUniform(-1, 1); exact += (double)g[i] * g[i]; }
        var s = new ParameterStore<float>(new[] { ("g", new[] { g.Length }) });
        g.CopyTo(s.Gradients, 0);
        Assert.True(System.Math.Abs(GradientClipping.ClipByGlobalNorm(s, 0) - System.Math.Sqrt(exact)) <= 1e-5 * System.Math.Sqrt(exact));
    }

    /// <summary>A parameter store with the golden file's layout (several tensors back to back, as in a network).</summary>
    private static ParameterStore<T> CreateStore<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layout = new List<(string Name, int[] Shape)>();
        foreach (JsonElement entry in Golden.Value.RootElement.GetProperty("layout").EnumerateArray())
        {
            JsonElement[] pair = entry.EnumerateArray().ToArray();
            layout.Add((pair[0].GetString()!, pair[1].EnumerateArray().Select(d => d.GetInt32()).ToArray()));
        }
        return new ParameterStore<T>(layout);
    }

    private static readonly Lazy<JsonDocument> Golden = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", "optimizers.json");
        Assert.True(File.Exists(path), $"Golden file {path} is missing; run Golden/generate_optimizer_golden.py.");
        return JsonDocument.Parse(File.ReadAllText(path));
    });

    private static JsonElement FindCase(string section, string name)
    {
        foreach (JsonElement c in Golden.Value.RootElement.GetProperty(section).EnumerateArray())
            if (c.GetProperty("name").GetString() == name) return c;
        throw new InvalidOperationException($"Golden file has no {section} case '{name}'; rerun Golden/generate_optimizer_golden.py.");
    }

    /// <summary>Relative closeness; exact zeros must match exactly.</summary>
    private static bool Close(double ours, double torch, double tolerance) =>
        System.Math.Abs(ours - torch) <= tolerance * System.Math.Abs(torch);

    /// <summary>Reads a JSON array of numbers; null stands for NaN.</summary>
    private static double[] ReadDoubles(JsonElement array) =>
        array.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? double.NaN : v.GetDouble()).ToArray();

    private static string Join(double[] values) =>
        string.Join(", ", values.Select(v => v.ToString("G6", CultureInfo.InvariantCulture)));
}
