using System;
using System.Diagnostics;
using Rnn.MLNet.Persistence;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Benchmarks;

/// <summary>
/// <c>payload-decode</c>: what the first prediction after loading a 4.94M-parameter model spends turning the .zip's payload
/// text back into bytes and checking them: <see cref="PayloadText.DecodeInto"/> and <see cref="Crc32"/> over 19.75 MB,
/// best of 5, each beside its byte-at-a-time definition.
/// </summary>
internal static class PayloadDecode
{
    public static int Run()
    {
        var bytes = new byte[19_753_988];
        new Random(1).NextBytes(bytes);
        string text = PayloadText.Encode(bytes);
        var decoded = new byte[bytes.Length];
        double decode = double.MaxValue, crc = double.MaxValue, crcNaive = double.MaxValue;
        for (int r = 0; r < 5; r++)
        {
            var sw = Stopwatch.StartNew();
            PayloadText.DecodeInto(text, 0, decoded);
            decode = System.Math.Min(decode, sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            uint fast = Crc32.Compute(decoded);
            crc = System.Math.Min(crc, sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            uint naive = Crc32.AppendNaive(0, decoded);
            crcNaive = System.Math.Min(crcNaive, sw.Elapsed.TotalMilliseconds);
            if (fast != naive || !decoded.AsSpan().SequenceEqual(bytes)) throw new InvalidOperationException("payload-decode: results differ");
        }
        Console.WriteLine(FormattableString.Invariant($"{{\"bytes\":{bytes.Length},\"decode_ms\":{decode:F1},\"crc32_ms\":{crc:F1},\"crc32_byte_at_a_time_ms\":{crcNaive:F1}}}"));
        return 0;
    }
}
