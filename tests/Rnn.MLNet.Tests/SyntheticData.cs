using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Math;

namespace Rnn.MLNet.Tests;

public sealed class SentimentRow
{
    public bool Label { get; set; }
    public string Text { get; set; } = "";
}

public sealed class TopicRow
{
    public string Topic { get; set; } = "";
    public string Text { get; set; } = "";
}

/// <summary>Small labelled text sets the tests generate themselves (fixed seeds).</summary>
public static class SyntheticData
{
    private static readonly string[] Filler = { "the", "a", "this", "that", "it", "was", "is", "and", "very", "quite", "film", "place", "food", "service", "day", "really", "so", "we", "i", "they" };
    private static readonly string[] Positive = { "great", "good", "excellent", "lovely", "wonderful", "amazing", "tasty", "friendly" };
    private static readonly string[] Negative = { "bad", "awful", "terrible", "rude", "bland", "boring", "dirty", "slow" };

    /// <summary>Sentiment: positive iff the text holds a positive word; "not" before it flips the meaning.</summary>
    public static List<SentimentRow> Sentiment(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var rows = new List<SentimentRow>();
        for (int i = 0; i < count; i++)
        {
            bool positive = rng.NextInt(2) == 0;
            bool negated = rng.NextInt(4) == 0;
            var words = Enumerable.Range(0, 3 + rng.NextInt(8)).Select(_ => Filler[rng.NextInt(Filler.Length)]).ToList();
            string[] pool = positive ^ negated ? Positive : Negative;
            int at = rng.NextInt(words.Count + 1);
            words.Insert(at, pool[rng.NextInt(pool.Length)]);
            if (negated) words.Insert(at, "not");
            string text = string.Join(' ', words);
            if (rng.NextInt(3) == 0) text = char.ToUpperInvariant(text[0]) + text[1..] + "!";
            rows.Add(new SentimentRow { Label = positive, Text = text });
        }
        return rows;
    }

    private static readonly Dictionary<string, string[]> TopicWords = new()
    {
        ["sport"] = new[] { "match", "goal", "team", "coach", "season", "score" },
        ["tech"] = new[] { "software", "chip", "laptop", "code", "cloud", "phone" },
        ["food"] = new[] { "recipe", "soup", "bread", "cheese", "oven", "spice" },
    };

    /// <summary>True for a word that names a topic (not filler).</summary>
    public static bool IsTopicWord(string word) => TopicWords.Values.Any(words => words.Contains(word));

    /// <summary>Topics: each text carries two words of its topic among filler.</summary>
    public static List<TopicRow> Topics(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var topics = TopicWords.Keys.ToArray();
        var rows = new List<TopicRow>();
        for (int i = 0; i < count; i++)
        {
            string topic = topics[rng.NextInt(topics.Length)];
            var words = Enumerable.Range(0, 4 + rng.NextInt(6)).Select(_ => Filler[rng.NextInt(Filler.Length)]).ToList();
            for (int k = 0; k < 2; k++) words.Insert(rng.NextInt(words.Count + 1), TopicWords[topic][rng.NextInt(6)]);
            rows.Add(new TopicRow { Topic = topic, Text = string.Join(' ', words) });
        }
        return rows;
    }
}
