using System;
using System.Globalization;

namespace Rnn.MLNet.Benchmarks;

/// <summary>The benchmark commands' <c>--name value</c> options.</summary>
internal static class CommandLine
{
    /// <summary>The value after <paramref name="name"/>, or null when the option is absent.</summary>
    public static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>An integer option (invariant culture), or <paramref name="fallback"/>.</summary>
    public static int Int(string[] args, string name, int fallback) =>
        Option(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
