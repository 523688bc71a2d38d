// Shared by the language-model samples (WordLanguageModel, CharLanguageModel): where the training checkpoint lives,
// `--resume` to continue from it, and what to print when Ctrl+C stops training.
using System;
using System.IO;
using System.Linq;
using Rnn.MLNet.Training;

internal sealed class SampleCheckpoint
{
    /// <summary>The checkpoint file (<c>--checkpoint PATH</c>, default in the temp folder under the sample's name).</summary>
    public string Path { get; }

    private readonly string _project;
    private readonly string[] _args;

    /// <summary>
    /// Reads <c>--checkpoint</c> and <c>--resume</c>. Without <c>--resume</c> an old checkpoint is removed so the run
    /// starts fresh; with it, training continues from the checkpoint (or starts fresh when there is none).
    /// </summary>
    public SampleCheckpoint(string[] args, string project)
    {
        _args = args;
        _project = project;
        int i = Array.IndexOf(args, "--checkpoint");
        Path = i >= 0 && i + 1 < args.Length ? args[i + 1]
            : System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rnn-mlnet-checkpoints", project + ".ckpt");
        if (args.Contains("--resume"))
            Console.WriteLine(File.Exists(Path) || File.Exists(TrainingCheckpoint.PreviousPath(Path))
                ? $"resuming from the checkpoint {Path}"
                : $"no checkpoint at {Path}: starting fresh");
        else
        {
            foreach (var f in new[] { Path, TrainingCheckpoint.PreviousPath(Path) })
                if (File.Exists(f)) File.Delete(f);
        }
    }

    /// <summary>Printed when Ctrl+C stopped training: where the checkpoint is and the command that continues.</summary>
    public void PrintResumeHint()
    {
        var again = _args.Contains("--resume") ? _args : _args.Append("--resume");
        Console.WriteLine($"\ntraining stopped; checkpoint written to {Path}");
        Console.WriteLine($"continue with: dotnet run -c Release --project samples/{_project} -- {string.Join(' ', again.Select(Quote))}");
    }

    private static string Quote(string a) => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./:=,".Contains(c)) ? a : "\"" + a.Replace("\"", "\\\"") + "\"";
}
