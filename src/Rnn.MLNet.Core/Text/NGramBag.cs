using System;
using System.Collections.Generic;
using System.Linq;

namespace Rnn.MLNet.Text;

/// <summary>
/// A bag of word n-grams (1 to <see cref="WordNGrams"/>) and character n-grams (<see cref="CharNGrams"/> long, with
/// start/end markers) over a dictionary built from training texts: the input of a linear ("wide") model, as ML.NET's
/// FeaturizeText gives SDCA. A text becomes term counts, each group (words, characters) scaled to unit L2 norm.
/// </summary>
public sealed class NGramBag
{
    private const char Start = '\u0002', End = '\u0003';
    private readonly Dictionary<string, int> _ids;
    private readonly WordTokenizer _words = new();

    /// <summary>The features in id order: "w:" + words joined by a space, or "c:" + characters.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>Longest word n-gram (0 = no word features).</summary>
    public int WordNGrams { get; }

    /// <summary>Character n-gram length (0 = no character features).</summary>
    public int CharNGrams { get; }

    /// <summary>Number of features (the wide input's width).</summary>
    public int Count => Features.Count;

    /// <summary>A bag over a given feature list (as stored in a model file).</summary>
    public NGramBag(IReadOnlyList<string> features, int wordNGrams, int charNGrams)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (wordNGrams < 0 || wordNGrams > 5) throw new ArgumentOutOfRangeException(nameof(wordNGrams), wordNGrams, "Word n-grams must be 0 to 5 long.");
        if (charNGrams < 0 || charNGrams > 8) throw new ArgumentOutOfRangeException(nameof(charNGrams), charNGrams, "Character n-grams must be 0 to 8 long.");
        Features = features; WordNGrams = wordNGrams; CharNGrams = charNGrams;
        _ids = new Dictionary<string, int>(features.Count, StringComparer.Ordinal);
        for (int i = 0; i < features.Count; i++)
            if (!_ids.TryAdd(features[i], i)) throw new ArgumentException($"Feature '{features[i]}' appears twice.", nameof(features));
    }

    /// <summary>
    /// Builds the dictionary from (already lower-cased) training texts: the n-grams found in at least
    /// <paramref name="minDocuments"/> texts, the <paramref name="maxFeatures"/> most frequent (ties in first-seen order).
    /// </summary>
    public static NGramBag Build(IEnumerable<string> texts, int wordNGrams, int charNGrams, int minDocuments, int maxFeatures)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (maxFeatures < 1) throw new ArgumentOutOfRangeException(nameof(maxFeatures), maxFeatures, "At least one feature is needed.");
        var probe = new NGramBag(Array.Empty<string>(), wordNGrams, charNGrams);
        var documents = new Dictionary<string, (int Count, int First)>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string text in texts)
        {
            seen.Clear();
            probe.ForEachNGram(text, (g, _, _, _) => seen.Add(g));
            foreach (string g in seen)
                documents[g] = documents.TryGetValue(g, out var c) ? (c.Count + 1, c.First) : (1, documents.Count);
        }
        var kept = documents.Where(kv => kv.Value.Count >= minDocuments)
            .OrderByDescending(kv => kv.Value.Count).ThenBy(kv => kv.Value.First)
            .Take(maxFeatures).Select(kv => kv.Key).ToList();
        return new NGramBag(kept, wordNGrams, charNGrams);
    }

    /// <summary>The bag of a text (lower-cased as the dictionary was): feature ids and values, each group at unit L2 norm.</summary>
    public (int[] Ids, float[] Values) Encode(string? text) => Encode(Occurrences(text));

    /// <summary>The bag of some occurrences of dictionary features (e.g. a text's, less those of one word): counts, each group at unit L2 norm.</summary>
    public (int[] Ids, float[] Values) Encode(IEnumerable<NGramOccurrence> occurrences)
    {
        ArgumentNullException.ThrowIfNull(occurrences);
        var counts = new Dictionary<int, int>();
        foreach (var o in occurrences) counts[o.Feature] = counts.TryGetValue(o.Feature, out int c) ? c + 1 : 1;
        var ids = counts.Keys.OrderBy(i => i).ToArray();
        var values = new float[ids.Length];
        double wordNorm = 0, charNorm = 0;
        foreach (var (id, c) in counts)
        {
            if (Features[id][0] == 'w') wordNorm += (double)c * c; else charNorm += (double)c * c;
        }
        for (int k = 0; k < ids.Length; k++)
            values[k] = (float)(counts[ids[k]] / System.Math.Sqrt(Features[ids[k]][0] == 'w' ? wordNorm : charNorm));
        return (ids, values);
    }

    /// <summary>
    /// Every occurrence of a dictionary feature in a text (lower-cased as the dictionary was), with where it lies: a word
    /// n-gram as its words' spans, a character n-gram as one span (its start/end markers lie outside the text and are left out).
    /// </summary>
    public List<NGramOccurrence> Occurrences(string? text)
    {
        text ??= string.Empty;
        var found = new List<NGramOccurrence>();
        (int Start, int Length)[] words = Array.Empty<(int, int)>();
        if (WordNGrams > 0) words = Tokenizer.Locate(text, _words.Split(text));
        ForEachNGram(text, (gram, first, count, isWord) =>
        {
            if (!_ids.TryGetValue(gram, out int id)) return;
            if (isWord) found.Add(new NGramOccurrence(id, words[first..(first + count)]));
            else
            {
                int start = System.Math.Max(0, first - 1), end = System.Math.Min(text.Length, first - 1 + count); // padded index → text
                found.Add(new NGramOccurrence(id, new[] { (start, System.Math.Max(0, end - start)) }));
            }
        });
        return found;
    }

    /// <summary>Calls <paramref name="add"/>(n-gram, first, count, isWord) for every n-gram: words [first, first + count) of the text's words, or characters [first, first + count) of the text with its start and end markers.</summary>
    private void ForEachNGram(string text, Action<string, int, int, bool> add)
    {
        if (WordNGrams > 0)
        {
            string[] words = _words.Split(text).ToArray();
            for (int i = 0; i < words.Length; i++)
                for (int n = 1; n <= WordNGrams && i + n <= words.Length; n++)
                    add("w:" + string.Join(' ', words, i, n), i, n, true);
        }
        if (CharNGrams > 0)
        {
            string padded = Start + text + End;
            for (int i = 0; i + CharNGrams <= padded.Length; i++) add(string.Concat("c:", padded.AsSpan(i, CharNGrams)), i, CharNGrams, false);
        }
    }
}

/// <summary>One occurrence of an n-gram feature in a text.</summary>
/// <param name="Feature">The feature id.</param>
/// <param name="Pieces">Where it lies in the text, as (start, length) spans: one per word of a word n-gram, one for a character n-gram.</param>
public sealed record NGramOccurrence(int Feature, (int Start, int Length)[] Pieces);
