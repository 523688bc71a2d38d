using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.ML;

// Usage: Rnn.MLNet.ModelLoadCheck <model.zip> <texts.txt>
// Loads the model in a fresh process (nothing of Rnn.MLNet registered beforehand) and prints one Score per text line.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Rnn.MLNet.ModelLoadCheck <model.zip> <texts.txt>");
    return 2;
}
var ml = new MLContext();
var model = ml.Model.Load(args[0], out _);
var rows = File.ReadAllLines(args[1]).Select(t => new Row { Text = t }).ToList();
var scores = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false);
foreach (var s in scores) Console.WriteLine(s.Score.ToString("R", CultureInfo.InvariantCulture));
return 0;

internal sealed class Row
{
    public bool Label { get; set; }
    public string Text { get; set; } = "";
}

internal sealed class Scored
{
    public float Score { get; set; }
}
