// Shared by the samples that take integer options on the command line (ColourDescription, NumberTranslation,
// WordClassTagging): `--name value`, or the fallback when the option is absent.
using System;
using System.Globalization;

internal static class SampleArgs
{
    /// <summary>The integer after <paramref name="name"/> in <paramref name="args"/>, or <paramref name="fallback"/>.</summary>
    public static int Int(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
