using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

namespace Rnn.MLNet.Text;

/// <summary>
/// Pre-trained word vectors read from a text file in the GloVe, word2vec (text) or fastText (.vec) format: one word per
/// line followed by its D numbers, separated by spaces; word2vec and fastText files start with a "count dimension" line.
/// </summary>
public static class WordVectors
{
    /// <summary>
    /// Reads the vectors of the words <paramref name="wanted"/> accepts (all when null). Every line must have the same
    /// dimension; a malformed line ends in <see cref="InvalidDataException"/> naming the file and the line.
    /// </summary>
    public static (int Dimension, Dictionary<string, float[]> Vectors) Load(string path, Func<string, bool>? wanted = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"The word-vector file '{path}' does not exist.", path);
        var vectors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        int dimension = 0, lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            string[] parts = line.TrimEnd().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            if (lineNumber == 1 && parts.Length == 2 && int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                continue; // the "count dimension" header of word2vec / fastText
            if (parts.Length < 2) throw new InvalidDataException($"'{path}' line {lineNumber}: expected a word followed by its vector; got '{Shorten(line)}'.");
            if (dimension == 0) dimension = parts.Length - 1;
            else if (parts.Length - 1 != dimension)
                throw new InvalidDataException($"'{path}' line {lineNumber}: the vector of '{Shorten(parts[0])}' has {parts.Length - 1} numbers; earlier lines have {dimension}.");
            if (wanted is not null && !wanted(parts[0])) continue;
            var v = new float[dimension];
            for (int j = 0; j < dimension; j++)
                if (!float.TryParse(parts[j + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out v[j]) || !float.IsFinite(v[j]))
                    throw new InvalidDataException($"'{path}' line {lineNumber}: value {j + 1} of '{Shorten(parts[0])}' is '{Shorten(parts[j + 1])}', not a finite number.");
            vectors.TryAdd(parts[0], v); // the first vector of a repeated word wins
        }
        if (dimension == 0) throw new InvalidDataException($"'{path}' holds no word vectors.");
        return (dimension, vectors);
    }

    private static string Shorten(string s) => s.Length > 40 ? s[..37] + "..." : s;
}
