using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Data;

/// <summary>A source text and its target text (translation-like tasks, one-to-many descriptions).</summary>
/// <param name="Source">Input text.</param>
/// <param name="Target">Expected output text.</param>
public sealed record TextPair(string Source, string Target);

/// <summary>A sentence as tokens and one tag per token.</summary>
/// <param name="Tokens">The words.</param>
/// <param name="Tags">The tag of each word.</param>
public sealed record TaggedSentence(string[] Tokens, string[] Tags);

/// <summary>A feature vector and the phrase that describes it.</summary>
/// <param name="Features">The vector.</param>
/// <param name="Phrase">Its description.</param>
public sealed record DescribedVector(float[] Features, string Phrase);

/// <summary>
/// Small generated data sets for the sequence shapes, the textbook exercises used by the tests and samples: every example is
/// a deterministic function of a seed, so results are reproducible anywhere without downloading anything.
/// </summary>
public static class SyntheticTasks
{
    private static readonly string[] Ones = { "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine" };
    private static readonly string[] Teens = { "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen" };
    private static readonly string[] Tens = { "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety" };

    /// <summary>English words for 0 ≤ <paramref name="n"/> ≤ 999_999, e.g. 312 → "three hundred twelve".</summary>
    public static string SpellNumber(int n)
    {
        if (n < 0 || n > 999_999) throw new ArgumentOutOfRangeException(nameof(n), n, "Numbers from 0 to 999999 can be spelled.");
        if (n == 0) return "zero";
        var words = new List<string>();
        if (n >= 1000) { words.Add(Below1000(n / 1000)); words.Add("thousand"); }
        if (n % 1000 != 0) words.Add(Below1000(n % 1000));
        return string.Join(' ', words);
    }

    private static string Below1000(int n)
    {
        var w = new List<string>();
        if (n >= 100) { w.Add(Ones[n / 100]); w.Add("hundred"); n %= 100; }
        if (n >= 20) { w.Add(Tens[n / 10]); if (n % 10 != 0) w.Add(Ones[n % 10]); }
        else if (n >= 10) w.Add(Teens[n - 10]);
        else if (n > 0) w.Add(Ones[n]);
        return string.Join(' ', w);
    }

    /// <summary>
    /// Spelled-out numbers and their digits ("three hundred twelve" → "312"): the distinct numbers 0..<paramref name="max"/>
    /// shuffled by <paramref name="seed"/>, split into <paramref name="trainCount"/> training pairs and the rest held out.
    /// The one-word numbers (0–20, 30, 40, …, 90) always go to training, as a dictionary would: a one-word number held out
    /// is a word never seen on its own, so the held-out part measures composition.
    /// </summary>
    public static (List<TextPair> Train, List<TextPair> Test) SpelledNumbers(int max, int trainCount, ulong seed)
    {
        if (max < 1 || max > 999_999) throw new ArgumentOutOfRangeException(nameof(max), max, "max must be in 1..999999.");
        if (trainCount < 1 || trainCount > max) throw new ArgumentOutOfRangeException(nameof(trainCount), trainCount, $"trainCount must be in 1..{max}.");
        var numbers = new int[max + 1];
        for (int i = 0; i <= max; i++) numbers[i] = i;
        new Rng(seed).Shuffle(numbers.AsSpan());
        // Stable partition: one-word numbers first, keeping the shuffled order within each part.
        numbers = numbers.Where(n => !SpellNumber(n).Contains(' ', StringComparison.Ordinal)).Concat(numbers.Where(n => SpellNumber(n).Contains(' ', StringComparison.Ordinal))).ToArray();
        var train = new List<TextPair>();
        var test = new List<TextPair>();
        for (int i = 0; i <= max; i++)
            (i < trainCount ? train : test).Add(new TextPair(SpellNumber(numbers[i]), numbers[i].ToString(CultureInfo.InvariantCulture)));
        return (train, test);
    }

    // A tiny lexicon where some words belong to two classes ("run", "fish", "watch", "light" as noun or verb), so the tag
    // depends on the context on both sides.
    private static readonly string[] Determiners = { "the", "a", "every", "this", "that", "my" };
    private static readonly string[] Adjectives = { "big", "small", "red", "old", "quick", "happy", "quiet", "bright" };
    private static readonly string[] Nouns = { "dog", "cat", "river", "city", "child", "teacher", "bird", "car", "run", "fish", "watch", "light" };
    private static readonly string[] Verbs = { "sees", "likes", "finds", "follows", "run", "fish", "watch", "light", "paints", "helps" };
    private static readonly string[] Adverbs = { "slowly", "today", "often", "again", "quietly" };
    private static readonly string[] Prepositions = { "near", "under", "with", "behind" };

    /// <summary>
    /// Sentences of a small grammar tagged with word classes (DET ADJ NOUN VERB ADV PREP): "the quick fish watch a light
    /// near my river", where "fish", "watch" and "light" are nouns or verbs by position.
    /// </summary>
    public static List<TaggedSentence> WordClassSentences(int count, ulong seed)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must not be negative.");
        var rng = new Rng(seed);
        var list = new List<TaggedSentence>(count);
        for (int i = 0; i < count; i++)
        {
            var tokens = new List<string>();
            var tags = new List<string>();
            void Add(string[] words, string tag) { tokens.Add(words[rng.NextInt(words.Length)]); tags.Add(tag); }
            void NounPhrase()
            {
                Add(Determiners, "DET");
                int adjectives = rng.NextInt(3);
                for (int a = 0; a < adjectives; a++) Add(Adjectives, "ADJ");
                Add(Nouns, "NOUN");
            }
            NounPhrase();
            Add(Verbs, "VERB");
            if (rng.NextDouble() < 0.8) NounPhrase();
            if (rng.NextDouble() < 0.4) { Add(Prepositions, "PREP"); NounPhrase(); }
            if (rng.NextDouble() < 0.3) Add(Adverbs, "ADV");
            list.Add(new TaggedSentence(tokens.ToArray(), tags.ToArray()));
        }
        return list;
    }

    private static readonly (string Name, double Hue)[] Hues =
        { ("red", 0), ("orange", 30), ("yellow", 60), ("green", 120), ("cyan", 180), ("blue", 240), ("purple", 275), ("pink", 320) };
    private static readonly (string Word, double Lightness)[] Shades = { ("dark", 0.25), ("", 0.5), ("light", 0.75) };

    /// <summary>
    /// Colours as RGB vectors in [0, 1] with the phrase naming them ("dark green", "orange", "light blue"): a hue of eight
    /// and a shade of three, jittered (hue ±8°, saturation 0.6–1, lightness ±0.06) so no two examples are the same.
    /// </summary>
    public static List<DescribedVector> ColourPhrases(int count, ulong seed)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must not be negative.");
        var rng = new Rng(seed);
        var list = new List<DescribedVector>(count);
        for (int i = 0; i < count; i++)
        {
            var (name, hue) = Hues[rng.NextInt(Hues.Length)];
            var (shade, lightness) = Shades[rng.NextInt(Shades.Length)];
            double h = (hue + rng.NextUniform(-8, 8) + 360) % 360, s = rng.NextUniform(0.6, 1.0), l = lightness + rng.NextUniform(-0.06, 0.06);
            list.Add(new DescribedVector(HslToRgb(h, s, l), shade.Length == 0 ? name : shade + " " + name));
        }
        return list;
    }

    /// <summary>HSL (hue in degrees, saturation and lightness in [0, 1]) to RGB in [0, 1].</summary>
    public static float[] HslToRgb(double hue, double saturation, double lightness)
    {
        double c = (1 - System.Math.Abs(2 * lightness - 1)) * saturation, hp = hue / 60, x = c * (1 - System.Math.Abs(hp % 2 - 1)), m = lightness - c / 2;
        (double r, double g, double b) = ((int)hp) switch
        {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        return new[] { (float)(r + m), (float)(g + m), (float)(b + m) };
    }
}
