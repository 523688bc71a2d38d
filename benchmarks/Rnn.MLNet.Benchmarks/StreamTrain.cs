using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Rnn.MLNet.Cells;
using Rnn.MLNet.LanguageModel;
using Rnn.MLNet.TextClassification;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// Training on data larger than memory, measured by peak RSS:
/// <code>
/// stream-train classifier [--rows N] [--buffer B]   a generated IDataView of N rows (default 20,000,000), never materialized, one epoch
/// stream-train lm [--megabytes M] [--file PATH]     a language model on a text file (generated, default 100 MB) read as a stream, one epoch
/// </code>
/// Prints one JSON line with rows or tokens, seconds and peak_rss_mb.
/// </summary>
internal static class StreamTrain
{
    public static int Run(string[] args)
    {
        return args.Length > 1 && args[1] == "lm" ? LanguageModel(args) : Classifier(args);
    }

    private static int Classifier(string[] args)
    {
        long rows = CommandLine.Option(args, "--rows") is { } r ? long.Parse(r, CultureInfo.InvariantCulture) : 20_000_000;
        int buffer = CommandLine.Int(args, "--buffer", 65_536);
        var ml = new MLContext(seed: 1);
        var data = new GeneratedTextDataView(rows);
        var sw = Stopwatch.StartNew();
        var estimator = ml.BinaryClassification.Trainers.RnnText(new RnnTextClassifierOptions
        {
            Cell = CellType.Gru, Layers = 1, HiddenSize = 8, EmbeddingSize = 8, Bidirectional = false, Epochs = 1, BatchSize = 256,
            MaximumLength = 8, ShuffleBufferSize = buffer, LearningRate = 1e-2,
            Progress = r => Console.Error.WriteLine(r.ToString()),
        });
        var model = estimator.Fit(data);
        double seconds = sw.Elapsed.TotalSeconds;
        var last = model.TrainingResult.History[^1];
        Console.WriteLine(FormattableString.Invariant(
            $"{{\"bench\":\"stream-train classifier\",\"rows\":{rows},\"shuffle_buffer\":{buffer},\"train_loss\":{last.TrainLoss:F4},\"steps\":{last.Steps},\"seconds\":{seconds:F1},\"peak_rss_mb\":{PeakRssMb():F0}}}"));
        return 0;
    }

    private static int LanguageModel(string[] args)
    {
        double megabytes = CommandLine.Option(args, "--megabytes") is { } m ? double.Parse(m, CultureInfo.InvariantCulture) : 100;
        string path = CommandLine.Option(args, "--file") ?? Path.Combine(Path.GetTempPath(), FormattableString.Invariant($"rnn-stream-lm-{megabytes:F0}mb.txt"));
        if (!File.Exists(path)) WriteText(path, (long)(megabytes * 1024 * 1024));
        long bytes = new FileInfo(path).Length;
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromTextFile<Line>(path, separatorChar: '\t', hasHeader: false, allowQuoting: false);
        var sw = Stopwatch.StartNew();
        var model = ml.Transforms.Text.RnnLanguageModel(new RnnLanguageModelOptions
        {
            Tokenizer = Text.TokenizerKind.Word, MaximumVocabularySize = 500, Cell = CellType.Gru, Layers = 1, HiddenSize = 16,
            EmbeddingSize = 16, Epochs = 1, BatchSize = 64, BpttSteps = 32, StreamTrainingData = true,
            Progress = r => Console.Error.WriteLine(r.ToString()),
        }).Fit(data);
        double seconds = sw.Elapsed.TotalSeconds;
        var last = model.TrainingResult.History[^1];
        Console.WriteLine(FormattableString.Invariant(
            $"{{\"bench\":\"stream-train lm\",\"file_mb\":{bytes / 1048576.0:F0},\"train_loss\":{last.TrainLoss:F4},\"steps\":{last.Steps},\"seconds\":{seconds:F1},\"peak_rss_mb\":{PeakRssMb():F0}}}"));
        return 0;
    }

    private static double PeakRssMb() => Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;

    /// <summary>Sentences of a small random grammar, one per line, until the file has <paramref name="bytes"/> bytes.</summary>
    private static void WriteText(string path, long bytes)
    {
        var rng = new Math.Rng(3);
        using var w = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        var line = new StringBuilder();
        long written = 0;
        while (written < bytes)
        {
            line.Clear();
            int n = 5 + rng.NextInt(15);
            int previous = rng.NextInt(1_500);
            for (int i = 0; i < n; i++)
            {
                previous = (previous * 7 + rng.NextInt(40)) % 1_500;
                if (i > 0) line.Append(' ');
                line.Append('w').Append(previous.ToString(CultureInfo.InvariantCulture));
            }
            w.WriteLine(line);
            written += line.Length + 1;
        }
    }

    private sealed class Line
    {
        [LoadColumn(0)]
        public string Text { get; set; } = "";
    }
}

/// <summary>
/// An IDataView of <c>Text</c> (String) and <c>Label</c> (Boolean) rows computed from the row index on demand: nothing is
/// stored, so any number of rows costs no memory. Label: the text holds more "a…" words than "b…" words.
/// </summary>
internal sealed class GeneratedTextDataView : IDataView
{
    private readonly long _rows;

    public GeneratedTextDataView(long rows)
    {
        _rows = rows;
        var b = new DataViewSchema.Builder();
        b.AddColumn("Text", TextDataViewType.Instance);
        b.AddColumn("Label", BooleanDataViewType.Instance);
        Schema = b.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => new[] { GetRowCursor(columnsNeeded, rand) };

    private static readonly string[] Words = BuildWords();

    private static string[] BuildWords()
    {
        var w = new string[300];
        for (int i = 0; i < w.Length; i++) w[i] = (i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c") + i.ToString(CultureInfo.InvariantCulture);
        return w;
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly GeneratedTextDataView _view;
        private readonly char[] _text = new char[128];
        private int _length;
        private bool _label;
        private long _position = -1;

        public Cursor(GeneratedTextDataView view) => _view = view;

        public override DataViewSchema Schema => _view.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_position + 1 >= _view._rows) return false;
            _position++;
            // SplitMix64 of the row index: the same row always has the same text.
            ulong x = (ulong)_position * 0x9E3779B97F4A7C15UL;
            int n = 3 + (int)(Next(ref x) % 5), a = 0, b = 0;
            _length = 0;
            for (int i = 0; i < n; i++)
            {
                string word = Words[Next(ref x) % (ulong)Words.Length];
                if (word[0] == 'a') a++; else if (word[0] == 'b') b++;
                if (i > 0) _text[_length++] = ' ';
                word.CopyTo(0, _text, _length, word.Length);
                _length += word.Length;
            }
            _label = a > b;
            return true;
        }

        private static ulong Next(ref ulong x)
        {
            ulong z = x += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index == 0)
                return (ValueGetter<TValue>)(Delegate)(ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> v) => v = new string(_text, 0, _length).AsMemory());
            return (ValueGetter<TValue>)(Delegate)(ValueGetter<bool>)((ref bool v) => v = _label);
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => true;
    }
}
