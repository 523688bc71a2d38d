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

    /// <summary>
    /// Throws when <paramref name="args"/> (after the command word) holds an option that is not one of
    /// <paramref name="valueOptions"/> (each followed by a value) or <paramref name="flags"/> (alone), or a stray word.
    /// </summary>
    public static void RequireKnown(string[] args, string[] valueOptions, params string[] flags)
    {
        for (int i = 1; i < args.Length; i++)
        {
            if (Array.IndexOf(flags, args[i]) >= 0) continue;
            if (Array.IndexOf(valueOptions, args[i]) >= 0 && i + 1 < args.Length) { i++; continue; }
            string known = string.Join(", ", valueOptions) + (flags.Length > 0 ? ", " + string.Join(", ", flags) : "");
            throw new ArgumentException(Array.IndexOf(valueOptions, args[i]) >= 0
                ? $"{args[0]}: option '{args[i]}' needs a value."
                : $"{args[0]}: unknown option or argument '{args[i]}'. Known options: {known}.");
        }
    }

    /// <summary>Whether the flag <paramref name="name"/> is present.</summary>
    public static bool Flag(string[] args, string name) => Array.IndexOf(args, name) >= 0;

    /// <summary>An integer option (invariant culture), or <paramref name="fallback"/>.</summary>
    public static int Int(string[] args, string name, int fallback) =>
        Option(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
