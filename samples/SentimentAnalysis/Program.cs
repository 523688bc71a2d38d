// Sentiment analysis of restaurant reviews (Yelp sentences, Kotzias et al. 2015): the recurrent text classifier with its
// default options in an ML.NET pipeline, against ML.NET's own FeaturizeText + SDCA logistic regression (the ML.NET
// sentiment tutorial) on the same split.
//
//   dotnet run -c Release --project samples/SentimentAnalysis -- [--train F] [--test F] [--positive 1] [--seed N]
//
// Files are `label\ttext` with a header row; labels 0/1 (--positive names the positive label; default 1). Lines are split
// on the first tab with no quoting. Without --train it reads ../shared/data/yelp-sentiment/ when present, else a small
// built-in set. Ctrl+C stops training between batches. The last line is JSON.
//
// 800 sentences are few: the estimator's defaults (the same as for SMS spam, nothing tuned here) train an ensemble whose
// members each hold out a different fifth of the training file to early-stop on, so together they use all of it, and start
// each member from an n-gram linear model that the recurrent part then improves on (see docs/text-classification.md).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

return BinaryTextSample.Run(args, "yelp-sentiment", DemoData.Write, _ => "1", "reviews");

internal static class DemoData
{
    private static readonly string[] Positive =
    {
        "The food was delicious and the service was excellent.", "Great place, friendly staff and amazing pizza.",
        "I loved the atmosphere and the desserts were wonderful.", "Best burger in town, will definitely come back!",
        "Our waiter was very attentive and the steak was perfect.", "Fresh ingredients, generous portions and fair prices.",
        "Highly recommend the pasta, it was fantastic.", "A nice quiet spot with really good coffee.",
    };
    private static readonly string[] Negative =
    {
        "The food was cold and the service was terrible.", "We waited an hour and nobody apologized.",
        "Overpriced, bland and the fries were soggy.", "The waitress was rude and the place was dirty.",
        "I will never go back, worst meal I have had in years.", "The chicken was dry and the salad was not fresh.",
        "Very disappointing, the soup tasted like water.", "Slow service and a bad attitude from the manager.",
    };

    public static void Write(string trainPath, string testPath)
    {
        // Train on every review repeated; test on the same kinds of sentences lightly changed (a demo, not a benchmark).
        var train = new List<string> { "label\ttext" };
        for (int r = 0; r < 8; r++)
            train.AddRange(Positive.Select(s => "1\t" + s).Concat(Negative.Select(s => "0\t" + s)));
        var test = new List<string> { "label\ttext" };
        test.AddRange(Positive.Select(s => "1\t" + s.Replace("The", "Their", StringComparison.Ordinal)));
        test.AddRange(Negative.Select(s => "0\t" + s.Replace("The", "Their", StringComparison.Ordinal)));
        File.WriteAllLines(trainPath, train);
        File.WriteAllLines(testPath, test);
    }
}
