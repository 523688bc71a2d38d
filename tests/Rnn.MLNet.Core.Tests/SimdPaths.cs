using System;
using System.Collections.Generic;
using System.Linq;
using Rnn.MLNet.Math;
using Xunit;

namespace Rnn.MLNet.Tests;

/// <summary>Runs kernel tests on every <see cref="SimdPath"/> this machine supports.</summary>
internal static class SimdPaths
{
    /// <summary>The paths this machine runs, widest first.</summary>
    public static IReadOnlyList<SimdPath> Supported { get; } = Enum.GetValues<SimdPath>().Where(Simd.IsSupported).Reverse().ToArray();

    /// <summary>Runs <paramref name="body"/> once per supported path, with that path forced.</summary>
    public static void OnEach(Action<SimdPath> body)
    {
        foreach (var path in Supported)
            using (Simd.Force(path))
                body(path);
    }
}

/// <summary>
/// Tests that force a SIMD path: the setting is process-wide, so they run alone (no other test may see the forced path).
/// </summary>
[CollectionDefinition(nameof(SimdPathForcing), DisableParallelization = true)]
public sealed class SimdPathForcing;

/// <summary>A test of one SIMD path, skipped with the reason where this machine cannot run that path.</summary>
internal sealed class SimdPathFactAttribute : FactAttribute
{
    public SimdPathFactAttribute(SimdPath path)
    {
        if (Simd.UnsupportedReason(path) is string reason) Skip = reason + " Its kernel tests ran on the other paths only.";
    }
}
