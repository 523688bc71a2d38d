// SMS spam detection: the recurrent text classifier with its default options in an ML.NET pipeline, against ML.NET's own
// FeaturizeText + SDCA logistic regression on the same split.
//
//   dotnet run -c Release --project samples/SpamDetection -- [--train F] [--test F] [--positive spam] [--seed N]
//
// Files are `label\ttext` with a header row; labels ham/spam or 0/1 (--positive names the positive label; default spam,
// or 1 when no label is "spam"). Messages contain `"` and HTML entities, so lines are split on the first tab with no
// quoting. Without --train it reads ../shared/data/sms-spam/ when present, else a small built-in set. Ctrl+C stops
// training between batches. The last line is JSON.
//
// Nothing here is tuned to this data set: the estimator's defaults choose the ensemble size from the number of rows, hold
// out a different fold of the training file for each member's early stopping, and fit the n-gram linear part before the
// recurrent one (see docs/text-classification.md). The test file is read only to score the model and the baseline.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

// Under each shown message, its three most incriminating tokens: the largest contributions to the spam score (the Score
// column, explained for the whole model: every ensemble member and the n-gram part; see docs/explanations.md).
return BinaryTextSample.Run(args, "sms-spam", DemoData.Write,
    train => File.ReadLines(train).Skip(1).Any(l => l.StartsWith("spam\t", StringComparison.OrdinalIgnoreCase)) ? "spam" : "1", "messages",
    model => { var blame = new IncriminatingTokens(model); return text => "most incriminating: " + blame.Top3(text); });

internal static class DemoData
{
    private static readonly string[] Spam =
    {
        "WINNER!! You have been selected to receive a £900 prize reward! Call 09061701461 to claim. Valid 12 hours only.",
        "Free entry in 2 a wkly comp to win FA Cup final tkts. Text FA to 87121 to receive entry question",
        "URGENT! Your mobile number has won a £2000 bonus caller prize. Call 09058095201 from a landline now",
        "Congratulations! You've won a free holiday. Reply WIN to 80086 to claim your reward. T&Cs apply",
        "SIX chances to win CASH! From 100 to 20,000 pounds txt CSH11 and send to 87575. Cost 150p/day",
        "Your free ringtone is waiting to be collected. Simply text the password MIX to 85069 to verify",
        "Had your mobile 11 months or more? U R entitled to update to the latest colour camera mobile for Free! Call 08002986030",
        "You are a winner U have been specially selected 2 receive £1000 cash or a 4* holiday. Call 0871277810810",
    };
    private static readonly string[] Ham =
    {
        "Ok lar... Joking wif u oni...", "I'll be home in 10 minutes, do you want anything from the shop?",
        "Are we still meeting for lunch tomorrow?", "Sorry, I'll call later", "Hey, how was the exam? Did it go well?",
        "Can you pick up some milk on the way back", "I'm gonna be late, the bus is stuck in traffic",
        "Happy birthday! Hope you have a great day :)", "Did you see the match last night? What a goal",
        "Mum says dinner is at 7, don't be late", "Thanks for yesterday, it was really fun", "Where are you? I'm at the station",
    };

    public static void Write(string trainPath, string testPath)
    {
        // Train on every message repeated; test on the same kinds of messages lightly changed (a demo, not a benchmark).
        var train = new List<string> { "label\ttext" };
        for (int r = 0; r < 8; r++)
            train.AddRange(Spam.Select(s => "spam\t" + s).Concat(Ham.Select(h => "ham\t" + h)));
        var test = new List<string> { "label\ttext" };
        test.AddRange(Spam.Select(s => "spam\t" + s.Replace("Call", "Ring", StringComparison.Ordinal)));
        test.AddRange(Ham.Select(h => "ham\t" + h.ToLowerInvariant()));
        File.WriteAllLines(trainPath, train);
        File.WriteAllLines(testPath, test);
    }
}
