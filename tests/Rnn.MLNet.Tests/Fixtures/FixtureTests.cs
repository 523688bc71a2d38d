using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Xunit;

namespace Rnn.MLNet.Tests.Fixtures;

/// <summary>Models saved by earlier versions keep loading and scoring as they did; every component survives Save/Load today.</summary>
public class FixtureTests
{
    private static string CommittedDirectory => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public static TheoryData<string> Names() => new(FixtureModels.All.Select(f => f.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void ACommittedModelLoadsAndScoresAsWhenItWasSaved(string name)
    {
        var fixture = FixtureModels.All.Single(f => f.Name == name);
        string[] expected = File.ReadAllLines(Path.Combine(CommittedDirectory, name + ".expected.txt"));
        string[] actual = FixtureModels.ScoreSaved(fixture, CommittedDirectory);
        AssertSameLines(expected, actual);
        var loaded = new Microsoft.ML.MLContext().Model.Load(Path.Combine(CommittedDirectory, name + ".zip"), out _);
        Assert.NotNull(fixture.ModelOf(loaded));
    }

    /// <summary>Trains, saves and reloads every component; with RNN_MLNET_WRITE_FIXTURES set, into that folder (how the fixtures were made).</summary>
    [Fact]
    public void FixtureModelsRoundTrip()
    {
        string? target = Environment.GetEnvironmentVariable("RNN_MLNET_WRITE_FIXTURES");
        string dir = string.IsNullOrEmpty(target) ? Path.Combine(Path.GetTempPath(), "rnn-fixtures-" + Guid.NewGuid().ToString("N")) : target;
        try
        {
            FixtureModels.WriteAll(dir);
            foreach (var f in FixtureModels.All)
                Assert.Equal(File.ReadAllLines(Path.Combine(dir, f.Name + ".expected.txt")), FixtureModels.ScoreSaved(f, dir));
        }
        finally { if (string.IsNullOrEmpty(target)) Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Same words; numbers equal to 1e-4 relative (kernels may change the last bits of a sum), everything else exact.</summary>
    internal static void AssertSameLines(string[] expected, string[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            string[] e = expected[i].Split(' '), a = actual[i].Split(' ');
            Assert.True(e.Length == a.Length, $"line {i}: expected '{expected[i]}', got '{actual[i]}'");
            for (int j = 0; j < e.Length; j++)
            {
                bool numbers = e[j].Contains('.', StringComparison.Ordinal) || e[j].Contains('E', StringComparison.Ordinal);
                if (numbers && float.TryParse(e[j], NumberStyles.Float, CultureInfo.InvariantCulture, out float x) && float.TryParse(a[j], NumberStyles.Float, CultureInfo.InvariantCulture, out float y))
                    Assert.True(System.Math.Abs(x - y) <= 1e-6 + 1e-4 * System.Math.Abs(x), $"line {i} value {j}: expected {x}, got {y}");
                else Assert.True(e[j] == a[j], $"line {i}: expected '{expected[i]}', got '{actual[i]}'");
            }
        }
    }
}
