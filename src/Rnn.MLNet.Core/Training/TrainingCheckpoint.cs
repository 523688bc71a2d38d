using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Training;

/// <summary>
/// Everything a training run needs to continue exactly where it was: the model (options and weights), the optimizer's
/// moments and step count, the schedule's state, both random generators, the position in the data, the epoch's running
/// sums, the carried hidden state of stream training, the best-so-far validation weights and the history. A run resumed
/// from it ends with weights bit-identical to a run that was never interrupted.
/// </summary>
/// <remarks>
/// File format (the model file's envelope, <c>"RNNCKPT1"</c>, version 1, CRC-32 over the payload):
/// <code>
/// string fingerprint (what run wrote it), u8 finished
/// i32 n, n bytes       the model as a model file (options + current weights, with its own checksum)
/// i64 step, f64 learning rate, i32 buffers, per buffer: i64 length (−1 = none) + f32 values   optimizer
/// i32 n, n × f64       schedule state
/// 4 × u64 shuffle generator at the start of the current chunk, 4 × u64 dropout generator now
/// i32 epoch, i64 chunk, i32 batches done in the chunk, i32 n + n × i32 order at the chunk's start
/// f64 loss sum, i64 tokens, i64 examples   running sums of the epoch
/// i32 n + n × f32 carried hidden state, i32 n + n × f32 carried cell state (streams)
/// f64 training seconds so far
/// i32 n + n × f32 best weights (n = 0: none), f64 best loss, i32 epochs since best, i32 best epoch, f64 best validation loss (NaN = none)
/// i32 n + n × epoch report
/// </code>
/// </remarks>
public sealed class TrainingCheckpoint
{
    private static ReadOnlySpan<byte> Magic => "RNNCKPT1"u8;

    /// <summary>Format version.</summary>
    public const uint FormatVersion = 2;

    /// <summary>Describes the run that wrote the checkpoint (fitter, sizes, seed); a resume checks it matches.</summary>
    public string Fingerprint { get; internal set; } = "";
    /// <summary>True when the run had ended (all epochs, or early stopping): resuming only restores its result.</summary>
    public bool Finished { get; internal set; }
    /// <summary>The model with the weights at the checkpoint (not the best ones).</summary>
    public ModelFile Model { get; internal set; } = null!;
    internal OptimizerState<float> Optimizer { get; set; } = null!;
    internal double[] Schedule { get; set; } = Array.Empty<double>();
    internal ulong[] ShuffleRng { get; set; } = Array.Empty<ulong>();
    internal ulong[] DropoutRng { get; set; } = Array.Empty<ulong>();
    /// <summary>Word dropout's generator (four words), or none when the fitter has no word dropout.</summary>
    internal ulong[] WordDropoutRng { get; set; } = Array.Empty<ulong>();
    /// <summary>Epoch in progress (1-based).</summary>
    public int Epoch { get; internal set; }
    /// <summary>Chunk of the epoch in progress (shuffle buffers of streamed data; 0 for data in memory).</summary>
    public long Chunk { get; internal set; }
    /// <summary>Batches of the current chunk already trained on.</summary>
    public int Batch { get; internal set; }
    internal int[] Order { get; set; } = Array.Empty<int>();
    internal double LossSum { get; set; }
    internal long Tokens { get; set; }
    internal long Examples { get; set; }
    internal float[] CarriedHidden { get; set; } = Array.Empty<float>();
    internal float[] CarriedCell { get; set; } = Array.Empty<float>();
    /// <summary>Training time before the checkpoint (counts toward <see cref="FitOptions.TimeLimit"/>).</summary>
    public TimeSpan Elapsed { get; internal set; }
    internal float[] BestWeights { get; set; } = Array.Empty<float>();
    internal double BestLoss { get; set; } = double.PositiveInfinity;
    internal int SinceBest { get; set; }
    internal int BestEpoch { get; set; }
    internal double? BestValidationLoss { get; set; }
    /// <summary>Optimizer updates applied before the checkpoint.</summary>
    public long Steps => Optimizer.StepCount;
    /// <summary>Reports of the epochs completed before the checkpoint.</summary>
    public List<EpochReport> History { get; } = new();

    /// <summary>The checkpoint as bytes.</summary>
    public byte[] ToBytes()
    {
        var model = Model.ToBytes();
        // Sized once (the arrays plus 64 KiB for the rest): a large model's checkpoint is not copied through doubling buffers.
        long size = 65536 + model.Length + 4L * (BestWeights.Length + CarriedHidden.Length + CarriedCell.Length + Order.Length)
            + Optimizer.Buffers.Sum(b => 8 + 4L * (b?.LongLength ?? 0)) + History.Sum(r => 2L * (r.Sample?.Length ?? 0));
        using var payload = new MemoryStream((int)System.Math.Min(size, Array.MaxLength));
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            WriteString(w, Fingerprint);
            w.Write(Finished ? (byte)1 : (byte)0);
            w.Write(model.Length); w.Write(model);
            w.Write(Optimizer.StepCount); w.Write(Optimizer.LearningRate);
            w.Write(Optimizer.Buffers.Count);
            foreach (var b in Optimizer.Buffers)
            {
                w.Write(b is null ? -1L : b.LongLength);
                if (b is not null) WriteFloats(w, b, withCount: false);
            }
            w.Write(Schedule.Length); foreach (double d in Schedule) w.Write(d);
            foreach (ulong u in ShuffleRng) w.Write(u);
            foreach (ulong u in DropoutRng) w.Write(u);
            w.Write(WordDropoutRng.Length); foreach (ulong u in WordDropoutRng) w.Write(u);
            w.Write(Epoch); w.Write(Chunk); w.Write(Batch);
            w.Write(Order.Length); w.Write(MemoryMarshal.AsBytes(Order.AsSpan()));
            w.Write(LossSum); w.Write(Tokens); w.Write(Examples);
            WriteFloats(w, CarriedHidden); WriteFloats(w, CarriedCell);
            w.Write(Elapsed.TotalSeconds);
            WriteFloats(w, BestWeights);
            w.Write(BestLoss); w.Write(SinceBest); w.Write(BestEpoch); w.Write(BestValidationLoss ?? double.NaN);
            w.Write(History.Count);
            foreach (var r in History)
            {
                w.Write(r.Epoch); w.Write(r.Epochs); w.Write(r.TrainLoss); w.Write(r.ValidationLoss ?? double.NaN); w.Write(r.ValidationAccuracy ?? double.NaN);
                w.Write(r.TokensPerSecond); w.Write(r.LearningRate); w.Write(r.Elapsed.Ticks); w.Write(r.Steps);
                w.Write(r.Sample is null ? (byte)0 : (byte)1);
                if (r.Sample is not null) WriteString(w, r.Sample);
            }
        }
        var file = new byte[ChecksummedFile.HeaderBytes + payload.Length + 4];
        using (var stream = new MemoryStream(file))
            ChecksummedFile.Write(stream, Magic, FormatVersion, payload.GetBuffer().AsSpan(0, (int)payload.Length));
        return file;
    }

    /// <summary>Reads a checkpoint from bytes.</summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, truncated, corrupt, or an unsupported version.</exception>
    public static TrainingCheckpoint Read(ReadOnlySpan<byte> data)
    {
        var payload = ChecksummedFile.Open(data, Magic, "checkpoint", v => v == FormatVersion, $"version {FormatVersion}", out _);
        var r = new SpanReader(payload);
        var c = new TrainingCheckpoint { Fingerprint = r.String() };
        byte finished = r.Byte();
        if (finished > 1) throw new InvalidDataException($"The finished flag is {finished}; expected 0 or 1.");
        c.Finished = finished == 1;
        int modelBytes = r.Count(1);
        c.Model = ModelFile.Read(r.Take(modelBytes));
        int parameters = c.Model.Weights.Length;
        long step = r.Int64(); double rate = r.Double();
        int nBuffers = r.Count(8);
        var buffers = new float[]?[nBuffers];
        for (int i = 0; i < nBuffers; i++)
        {
            long n = r.Int64();
            if (n == -1) continue;
            if (n != parameters) throw new InvalidDataException($"Optimizer buffer {i} holds {n} values; the model has {parameters} parameters.");
            buffers[i] = new float[n];
            r.Floats(buffers[i]);
        }
        c.Optimizer = new OptimizerState<float>(step, rate, buffers);
        c.Schedule = new double[r.Count(8)];
        for (int i = 0; i < c.Schedule.Length; i++) c.Schedule[i] = r.Double();
        c.ShuffleRng = new[] { r.UInt64(), r.UInt64(), r.UInt64(), r.UInt64() };
        c.DropoutRng = new[] { r.UInt64(), r.UInt64(), r.UInt64(), r.UInt64() };
        int wordWords = r.Int32();
        if (wordWords is not (0 or 4)) throw new InvalidDataException($"Word dropout's generator has {wordWords} state words; expected 0 or 4.");
        c.WordDropoutRng = new ulong[wordWords];
        for (int i = 0; i < wordWords; i++) c.WordDropoutRng[i] = r.UInt64();
        c.Epoch = r.Int32(); c.Chunk = r.Int64(); c.Batch = r.Int32();
        if (c.Epoch < 1 || c.Chunk < 0 || c.Batch < 0) throw new InvalidDataException($"Impossible position: epoch {c.Epoch}, chunk {c.Chunk}, batch {c.Batch}.");
        c.Order = new int[r.Count(4)];
        r.Take(c.Order.Length * 4).CopyTo(MemoryMarshal.AsBytes(c.Order.AsSpan()));
        c.LossSum = r.Double(); c.Tokens = r.Int64(); c.Examples = r.Int64();
        c.CarriedHidden = ReadFloats(ref r); c.CarriedCell = ReadFloats(ref r);
        c.Elapsed = TimeSpan.FromSeconds(r.Double());
        c.BestWeights = ReadFloats(ref r);
        if (c.BestWeights.Length is not 0 && c.BestWeights.Length != parameters) throw new InvalidDataException($"The best weights hold {c.BestWeights.Length} values; the model has {parameters}.");
        c.BestLoss = r.Double(); c.SinceBest = r.Int32(); c.BestEpoch = r.Int32();
        double bestValid = r.Double();
        c.BestValidationLoss = double.IsNaN(bestValid) ? null : bestValid;
        int nReports = r.Count(8);
        for (int i = 0; i < nReports; i++)
        {
            int epoch = r.Int32(), epochs = r.Int32();
            double train = r.Double(), vl = r.Double(), va = r.Double(), tps = r.Double(), lr = r.Double();
            long ticks = r.Int64(), steps = r.Int64();
            string? sample = r.Byte() == 1 ? r.String() : null;
            c.History.Add(new EpochReport(epoch, epochs, train, double.IsNaN(vl) ? null : vl, double.IsNaN(va) ? null : va, tps, lr, TimeSpan.FromTicks(ticks), steps) { Sample = sample });
        }
        if (r.Remaining != 0) throw new InvalidDataException($"{r.Remaining} bytes follow the checkpoint's last field.");
        return c;
    }

    /// <summary>
    /// Loads the newest good checkpoint at <paramref name="path"/>: the file itself, or, when it is missing, truncated or
    /// corrupt, the previous one kept beside it (<see cref="PreviousPath"/>). Returns null when neither exists.
    /// </summary>
    /// <param name="path">The checkpoint path.</param>
    /// <param name="problems">Receives one line per file that exists but could not be used.</param>
    /// <exception cref="InvalidDataException">Files exist but none is a valid checkpoint; the message names each file and what is wrong.</exception>
    public static TrainingCheckpoint? Load(string path, List<string>? problems = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var errors = new List<string>();
        foreach (string file in new[] { path, PreviousPath(path) })
        {
            if (!File.Exists(file)) continue;
            try { return Read(File.ReadAllBytes(file)); }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                string line = $"checkpoint '{file}' is unusable: {e.Message}";
                errors.Add(line);
                problems?.Add(line);
            }
        }
        if (errors.Count == 0) return null;
        throw new InvalidDataException("No usable checkpoint: " + string.Join("; ", errors) + " Delete the files to start over.");
    }

    /// <summary>Where the previous good checkpoint is kept: <c>path + ".prev"</c>.</summary>
    public static string PreviousPath(string path) => path + ".prev";

    /// <summary>
    /// Writes the checkpoint so that nothing good is ever lost: the bytes go to a temporary file, are flushed to the disk
    /// and read back (checksum); then the current file, if it is a valid checkpoint, becomes <see cref="PreviousPath"/> and
    /// the new file is renamed into place. A crash at any moment leaves at least one good checkpoint.
    /// </summary>
    public void Save(string path) => Save(path, ToBytes(), currentKnownGood: false);

    internal static void Save(string path, byte[] bytes, bool currentKnownGood)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string tmp = full + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
                fs.Position = 0;
                var back = new byte[bytes.Length];
                fs.ReadExactly(back);
                if (!back.AsSpan().SequenceEqual(bytes)) throw new IOException($"Reading back the checkpoint written to '{tmp}' gave other bytes.");
            }
            if (File.Exists(full) && (currentKnownGood || IsValid(full))) File.Move(full, PreviousPath(full), overwrite: true);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    private static bool IsValid(string file)
    {
        try { Read(File.ReadAllBytes(file)); return true; }
        catch (Exception e) when (e is InvalidDataException or IOException) { return false; }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        w.Write(s.Length);
        foreach (char ch in s) w.Write((ushort)ch);
    }

    private static void WriteFloats(BinaryWriter w, float[] values, bool withCount = true)
    {
        if (withCount) w.Write(values.Length);
        if (BitConverter.IsLittleEndian) w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        else foreach (float f in values) w.Write(f);
    }

    private static float[] ReadFloats(ref SpanReader r)
    {
        var values = new float[r.Count(4)];
        r.Floats(values);
        return values;
    }
}

/// <summary>Writes a run's checkpoints: when due by interval, at the end of each epoch, when stopped, and at the end.</summary>
internal sealed class CheckpointKeeper
{
    private readonly string? _path;
    private readonly TimeSpan _interval;
    private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
    private bool _wroteOne;

    public CheckpointKeeper(FitOptions options)
    {
        _path = options.CheckpointPath;
        _interval = options.CheckpointInterval;
    }

    public bool Enabled => _path is not null;

    /// <summary>True when the interval has passed since the last checkpoint.</summary>
    public bool Due => _path is not null && _sinceLast.Elapsed >= _interval;

    /// <summary>The checkpoint to resume from, or null; throws when it belongs to another run.</summary>
    public TrainingCheckpoint? Resume(string fingerprint, FitResult result)
    {
        if (_path is null) return null;
        var problems = new List<string>();
        var c = TrainingCheckpoint.Load(_path, problems);
        result.CheckpointProblems.AddRange(problems);
        if (c is null) return null;
        if (c.Fingerprint != fingerprint)
            throw new ArgumentException($"The checkpoint '{_path}' was written by another run ({c.Fingerprint}); this run is ({fingerprint}). Delete it or choose another checkpoint path.");
        result.ResumedFrom = $"{(problems.Count > 0 ? TrainingCheckpoint.PreviousPath(_path) : _path)} (epoch {c.Epoch}, step {c.Steps}{(c.Finished ? ", finished" : "")})";
        return c;
    }

    public void Write(TrainingCheckpoint checkpoint)
    {
        if (_path is null) return;
        TrainingCheckpoint.Save(_path, checkpoint.ToBytes(), currentKnownGood: _wroteOne);
        _wroteOne = true;
        _sinceLast.Restart();
    }
}
