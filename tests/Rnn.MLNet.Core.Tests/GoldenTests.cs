using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.Json;
using Rnn.MLNet.Cells;
using Rnn.MLNet.Models;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// Forward and backward of <see cref="SequenceNetwork{T}"/> against PyTorch golden files (Golden/*.json, written by
/// Golden/generate_golden.py): same weights, inputs, initial state and loss, every output and gradient compared.
/// </summary>
public sealed class GoldenTests
{
    private const double Tolerance = 1e-5;

    private readonly ITestOutputHelper _output;

    public GoldenTests(ITestOutputHelper output) => _output = output;

    public static TheoryData<string> Cases => new()
    {
        "rnn_tanh_l1",
        "rnn_relu_l1",
        "lstm_l1",
        "gru_l1",
        "lstm_l2",
        "gru_l2_bi",
        "rnn_tanh_l2_bi",
        "lstm_l2_bi_varlen",
        "gru_l1_varlen",
        "rnn_tanh_l1_varlen",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", name + ".json");
        Assert.True(File.Exists(path), $"Golden file {path} is missing; run Golden/generate_golden.py.");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement root = doc.RootElement;
        JsonElement config = root.GetProperty("config");
        JsonElement inputs = root.GetProperty("inputs");
        JsonElement outputs = root.GetProperty("outputs");
        JsonElement grads = root.GetProperty("grads");

        var cell = Enum.Parse<CellType>(config.GetProperty("cell").GetString()!);
        int I = config.GetProperty("I").GetInt32(), H = config.GetProperty("H").GetInt32(), L = config.GetProperty("L").GetInt32();
        int O = config.GetProperty("O").GetInt32(), B = config.GetProperty("B").GetInt32(), S = config.GetProperty("S").GetInt32();
        bool bi = config.GetProperty("bidirectional").GetBoolean();
        int[] lengths = ReadInts(config.GetProperty("lengths"));
        bool lstm = cell == CellType.Lstm;
        int D = bi ? 2 : 1;
        int stateSize = L * D * B * H;

        var net = new SequenceNetwork<float>(new NetworkOptions
        {
            Cell = cell,
            Input = InputKind.Dense,
            FeatureSize = I,
            HiddenSize = H,
            Layers = L,
            Bidirectional = bi,
            OutputSize = O,
            Output = OutputMode.PerStep,
        });

        // Every parameter of ours must come from the file, and every parameter of the file must be ours.
        var fileParams = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty p in root.GetProperty("params").EnumerateObject())
        {
            fileParams.Add(p.Name);
            Assert.True(net.Parameters.Contains(p.Name), $"{name}: the golden file has parameter '{p.Name}', which the network lacks.");
            float[] values = ReadFloats(p.Value);
            Span<float> dst = net.Parameters.Value(p.Name);
            Assert.True(values.Length == dst.Length, $"{name}: parameter '{p.Name}' has {values.Length} values in the file, {dst.Length} in the network.");
            values.CopyTo(dst);
        }
        foreach (Parameter p in net.Parameters.Parameters)
            Assert.True(fileParams.Contains(p.Name), $"{name}: the network's parameter '{p.Name}' is not in the golden file.");

        float[] x = Read(inputs, "x", B * S * I, name);
        var batch = SequenceBatch<float>.FromFeatures(x, B, S, I, lengths);
        var init = net.CreateState(B);
        Read(inputs, "h0", stateSize, name).CopyTo(init.Hidden, 0);
        if (lstm) Read(inputs, "c0", stateSize, name).CopyTo(init.Cell, 0);

        float[] y = net.Forward(batch, training: false, initialState: init).ToArray();
        var final = net.CreateState(B);
        net.CopyFinalState(final);

        net.Parameters.ZeroGradients();
        var dFinal = net.CreateState(B);
        Read(inputs, "Rh", stateSize, name).CopyTo(dFinal.Hidden, 0);
        if (lstm) Read(inputs, "Rc", stateSize, name).CopyTo(dFinal.Cell, 0);
        var dInit = net.CreateState(B);
        var dx = new float[B * S * I];
        net.Backward(Read(inputs, "R", B * S * O, name), dFinalState: dFinal, dInitialState: dInit, dFeatures: dx);

        var failures = new List<string>();
        double worst = 0;
        string worstTensor = "";
        void Check(string tensor, ReadOnlySpan<float> ours, JsonElement expected)
        {
            float[] torch = ReadFloats(expected);
            if (torch.Length != ours.Length)
            {
                failures.Add($"{tensor}: {ours.Length} values, PyTorch has {torch.Length}");
                return;
            }
            double maxDiff = 0, maxRef = 0;
            int at = 0;
            for (int i = 0; i < torch.Length; i++)
            {
                double diff = System.Math.Abs((double)ours[i] - torch[i]);
                if (!(diff <= maxDiff)) { maxDiff = diff; at = i; } // NaN in ours counts as the worst difference
                maxRef = System.Math.Max(maxRef, System.Math.Abs((double)torch[i]));
            }
            double rel = maxDiff / System.Math.Max(maxRef, 1e-6);
            if (!(rel <= worst)) { worst = rel; worstTensor = tensor; }
            if (!(rel <= Tolerance))
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{tensor}: max |ours - torch| = {maxDiff:G4} at index {at} (ours {ours[at]:G9}, torch {torch[at]:G9}), max |torch| = {maxRef:G4}, relative {rel:G4}"));
        }

        Check("y", y, outputs.GetProperty("y"));
        Check("h_n", final.Hidden, outputs.GetProperty("h_n"));
        if (lstm) Check("c_n", final.Cell, outputs.GetProperty("c_n"));
        JsonElement paramGrads = root.GetProperty("params");
        foreach (JsonProperty p in paramGrads.EnumerateObject())
            Check("grad " + p.Name, net.Parameters.Gradient(p.Name), grads.GetProperty(p.Name));
        Check("grad x", dx, grads.GetProperty("x"));
        Check("grad h0", dInit.Hidden, grads.GetProperty("h0"));
        if (lstm) Check("grad c0", dInit.Cell, grads.GetProperty("c0"));

        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: worst relative difference {worst:G4} ({worstTensor})"));
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} tensor(s) differ from PyTorch beyond {Tolerance:G}:{Environment.NewLine}  "
            + string.Join(Environment.NewLine + "  ", failures));
    }

    private static float[] Read(JsonElement group, string key, int expectedLength, string name)
    {
        float[] values = ReadFloats(group.GetProperty(key));
        Assert.True(values.Length == expectedLength, $"{name}: '{key}' has {values.Length} values; expected {expectedLength}.");
        return values;
    }

    private static float[] ReadFloats(JsonElement array)
    {
        var values = new float[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement v in array.EnumerateArray()) values[i++] = v.GetSingle();
        return values;
    }

    private static int[] ReadInts(JsonElement array)
    {
        var values = new int[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement v in array.EnumerateArray()) values[i++] = v.GetInt32();
        return values;
    }
}
