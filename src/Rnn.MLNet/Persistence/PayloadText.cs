using System;
using System.Buffers.Binary;
using System.IO;

namespace Rnn.MLNet.Persistence;

/// <summary>
/// The payload's text form. ML.NET keeps the Expression's text as UTF-16, in the .zip and in memory, so the text packs
/// 15 bits into every char: chars U+4000–U+BFFF (no quote, backslash, control char or surrogate, so the string literal and
/// the model file carry them verbatim), after a marker char U+C000 and three chars of byte length. 1.07 bytes of text per
/// byte of model (base64: 2.67). Models saved before this format carry base64 (they start with 'U', from "RNNMLNET") and
/// still read.
/// </summary>
internal static class PayloadText
{
    private const char Marker = '\uC000';
    private const int First = 0x4000;
    private const int HeaderChars = 4;

    public static string Encode(byte[] bytes)
    {
        long dataChars = ((long)bytes.Length * 8 + 14) / 15;
        return string.Create(checked(HeaderChars + (int)dataChars), bytes, static (chars, data) =>
        {
            chars[0] = Marker;
            long n = data.Length;
            for (int i = 3; i >= 1; i--, n >>= 15) chars[i] = (char)(First + (int)(n & 0x7FFF));
            int at = HeaderChars, bits = 0;
            uint acc = 0;
            foreach (byte b in data)
            {
                acc = (acc << 8) | b; bits += 8;
                if (bits >= 15) { bits -= 15; chars[at++] = (char)(First + (int)((acc >> bits) & 0x7FFF)); }
            }
            if (bits > 0) chars[at] = (char)(First + (int)((acc << (15 - bits)) & 0x7FFF));
        });
    }

    /// <summary>True for a payload in this form (false: base64, the first format).</summary>
    public static bool IsPacked(ReadOnlySpan<char> text) => text.Length > 0 && text[0] == Marker;

    /// <exception cref="InvalidDataException">The text is not a well-formed packed payload.</exception>
    public static byte[] Decode(ReadOnlySpan<char> text)
    {
        var bytes = new byte[ByteLength(text)];
        DecodeInto(text, 0, bytes);
        return bytes;
    }

    /// <summary>The number of bytes the payload holds, after checking its header against its length.</summary>
    /// <exception cref="InvalidDataException">The text is not a well-formed packed payload.</exception>
    public static long ByteLength(ReadOnlySpan<char> text)
    {
        if (text.Length < HeaderChars || text[0] != Marker) throw new InvalidDataException("the payload does not start with its marker.");
        long length = 0;
        for (int i = 1; i < HeaderChars; i++) length = (length << 15) | Digit(text[i]);
        long dataChars = (length * 8 + 14) / 15;
        if (dataChars != text.Length - HeaderChars)
            throw new InvalidDataException($"the payload announces {length} bytes but holds {text.Length - HeaderChars} chars ({dataChars} expected): it is truncated or extended.");
        return length;
    }

    /// <summary>
    /// Decodes the bytes [<paramref name="offset"/>, offset + destination length) of a payload whose length
    /// <see cref="ByteLength"/> has checked: byte i is bits [8i, 8i + 8) of the chars' 15-bit digits read as one bit string.
    /// </summary>
    /// <exception cref="InvalidDataException">A char outside the alphabet.</exception>
    public static void DecodeInto(ReadOnlySpan<char> text, long offset, Span<byte> destination)
    {
        long bit = offset * 8;
        int at = HeaderChars + (int)(bit / 15), skip = (int)(bit % 15);
        ulong acc = 0;
        int bits = 0;
        if (skip > 0 && !destination.IsEmpty)
        {
            acc = Digit(text[at++]) & ((1u << (15 - skip)) - 1); // the first char's bits before the offset belong to earlier bytes
            bits = 15 - skip;
        }
        for (int i = 0; i < destination.Length; i++)
        {
            if (bits == 0) // on a 120-bit boundary: whole groups of 8 chars = 15 bytes at a time
            {
                for (; i + 15 <= destination.Length; i += 15, at += 8) DecodeGroup(text.Slice(at, 8), destination.Slice(i, 15));
                if (i == destination.Length) break;
            }
            if (bits < 8) { acc = (acc << 15) | Digit(text[at++]); bits += 15; }
            bits -= 8;
            destination[i] = (byte)(acc >> bits);
            acc &= (1UL << bits) - 1;
        }
    }

    /// <summary>8 chars (8 × 15 = 120 bits) into 15 bytes: the same bits as the byte loop, ~4× faster on a large payload.</summary>
    private static void DecodeGroup(ReadOnlySpan<char> group, Span<byte> bytes)
    {
        uint d0 = (uint)group[0] - First, d1 = (uint)group[1] - First, d2 = (uint)group[2] - First, d3 = (uint)group[3] - First;
        uint d4 = (uint)group[4] - First, d5 = (uint)group[5] - First, d6 = (uint)group[6] - First, d7 = (uint)group[7] - First;
        if ((d0 | d1 | d2 | d3 | d4 | d5 | d6 | d7) >= 0x8000) // a char outside U+4000–U+BFFF (below wraps to a large number)
            foreach (char c in group) Digit(c); // throws, naming it
        ulong hi = (ulong)d0 << 45 | (ulong)d1 << 30 | (ulong)d2 << 15 | d3; // bits 0–59
        ulong lo = (ulong)d4 << 45 | (ulong)d5 << 30 | (ulong)d6 << 15 | d7; // bits 60–119
        BinaryPrimitives.WriteUInt64BigEndian(bytes, hi << 4 | lo >> 56);   // bytes 0–7: hi's 60 bits, then lo's first 4
        BinaryPrimitives.WriteUInt32BigEndian(bytes.Slice(8), (uint)(lo >> 24)); // bytes 8–11
        BinaryPrimitives.WriteUInt16BigEndian(bytes.Slice(12), (ushort)(lo >> 8)); // bytes 12–13
        bytes[14] = (byte)lo;
    }

    private static uint Digit(char c) =>
        c >= First && c < First + 0x8000 ? (uint)(c - First) : throw new InvalidDataException($"the payload holds the char U+{(int)c:X4}, outside its alphabet.");
}
