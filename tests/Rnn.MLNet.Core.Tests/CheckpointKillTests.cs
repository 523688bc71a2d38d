using System;
using System.Diagnostics;
using System.IO;
using Xunit;
using Xunit.Abstractions;

namespace Rnn.MLNet.Tests;

/// <summary>
/// A training process (tests/Rnn.MLNet.CheckpointChild: classifier, language model, encoder-decoder, checkpoint after
/// every batch) killed with SIGKILL at random moments and started again until it finishes ends with weights
/// bit-identical to a run that was never interrupted.
/// </summary>
public sealed class CheckpointKillTests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 24;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rnn-kill-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static Process Start(string folder, string outputFile)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Rnn.MLNet.CheckpointChild.dll"));
        psi.ArgumentList.Add(folder);
        psi.ArgumentList.Add(outputFile);
        return Process.Start(psi) ?? throw new InvalidOperationException("Could not start the training process.");
    }

    [Fact]
    public void TrainingKilledAtRandomMomentsAndResumedEndsBitIdenticalToAnUninterruptedRun()
    {
        Directory.CreateDirectory(_dir);
        string reference = Path.Combine(_dir, "reference.bin"), resumed = Path.Combine(_dir, "resumed.bin"), checkpoints = Path.Combine(_dir, "ckpt");
        using (var p = Start("-", reference))
        {
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }

        var random = new Random(20);
        int kills = 0, lives = 0;
        while (true)
        {
            using var p = Start(checkpoints, resumed);
            lives++;
            string? line = p.StandardOutput.ReadLine();
            if (kills < Kills && line == "training")
            {
                // A random moment inside training: between batches, inside a batch, or in the middle of writing a checkpoint.
                System.Threading.Thread.Sleep(random.Next(0, 40));
                p.Kill();
                p.WaitForExit();
                if (p.ExitCode == 137) kills++;
                continue;
            }
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
            break;
        }
        output.WriteLine($"{kills} SIGKILLs over {lives} processes");
        Assert.True(kills >= 20, $"only {kills} kills landed during training");
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(resumed));
    }
}
