using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;
using Xunit;

namespace Rnn.MLNet.Tests;

public class FreshProcessTests
{
    public sealed class Scored
    {
        public float Score { get; set; }
    }

    private static string LoadCheckDll()
    {
        // tests/Rnn.MLNet.Tests/bin/<Config>/net10.0 → tests/Rnn.MLNet.ModelLoadCheck/bin/<Config>/net10.0
        var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = dir.Name, config = dir.Parent!.Name;
        string testsDir = dir.Parent!.Parent!.Parent!.Parent!.FullName;
        return Path.Combine(testsDir, "Rnn.MLNet.ModelLoadCheck", "bin", config, tfm, "Rnn.MLNet.ModelLoadCheck.dll");
    }

    [Fact]
    public void ASavedPipelineScoresIdenticallyInAFreshProcess()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SyntheticData.Sentiment(200, 1));
        var model = ml.Transforms.Text.NormalizeText("Text")
            .Append(ml.BinaryClassification.Trainers.RnnText(new TextClassification.RnnTextClassifierOptions { HiddenSize = 8, EmbeddingSize = 8, Epochs = 2, Seed = 1 }))
            .Fit(data);
        var texts = SyntheticData.Sentiment(50, 3).Select(r => r.Text).Append("").Append("한국어 👍 e\u0301").ToArray();
        var expected = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(texts.Select(t => new SentimentRow { Text = t }))), false)
            .Select(s => s.Score.ToString("R", CultureInfo.InvariantCulture)).ToArray();

        string dir = Path.Combine(Path.GetTempPath(), "rnn-fresh-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string zip = Path.Combine(dir, "model.zip"), txt = Path.Combine(dir, "texts.txt");
            ml.Model.Save(model, data.Schema, zip);
            File.WriteAllLines(txt, texts);
            string dll = LoadCheckDll();
            Assert.True(File.Exists(dll), $"missing {dll}");
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(dll); psi.ArgumentList.Add(zip); psi.ArgumentList.Add(txt);
            using var p = Process.Start(psi)!;
            string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(120_000), "the load check did not finish");
            Assert.True(p.ExitCode == 0, stderr);
            Assert.Equal(expected, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray());
        }
        finally { Directory.Delete(dir, true); }
    }
}
