using System;
using System.Collections.Generic;
using Rnn.MLNet.Losses;
using Rnn.MLNet.Math;
using Rnn.MLNet.Models;

namespace Rnn.MLNet.Text;

/// <summary>How the next token is chosen from the model's distribution.</summary>
public sealed class SamplingOptions
{
    /// <summary>Tokens to generate after the prompt.</summary>
    public int MaxTokens { get; set; } = 100;

    /// <summary>Softmax temperature; 0 means greedy (always the most likely token).</summary>
    public double Temperature { get; set; } = 1.0;

    /// <summary>Sample only among the k most likely tokens (0 = all).</summary>
    public int TopK { get; set; }

    /// <summary>Seed of the sampling stream.</summary>
    public ulong Seed { get; set; } = 1;

    /// <summary>Generation stops after this token (e.g. &lt;eos&gt;), when set.</summary>
    public string? StopToken { get; set; }
}

/// <summary>Generates text from a per-step language model with the streaming step API.</summary>
public static class TextGenerator
{
    /// <summary>Feeds the prompt, then samples <see cref="SamplingOptions.MaxTokens"/> tokens; returns the generated ids (prompt excluded).</summary>
    public static List<int> GenerateIds(SequenceNetwork<float> network, IReadOnlyList<int> prompt, SamplingOptions sampling)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(sampling);
        if (network.Options.Output != OutputMode.PerStep) throw new InvalidOperationException("Generation needs a per-step (language) model.");
        if (prompt.Count == 0) throw new ArgumentException("The prompt must contain at least one token.", nameof(prompt));
        if (sampling.MaxTokens < 0) throw new ArgumentOutOfRangeException(nameof(sampling), sampling.MaxTokens, "MaxTokens must not be negative.");
        if (!(sampling.Temperature >= 0) || double.IsInfinity(sampling.Temperature)) throw new ArgumentOutOfRangeException(nameof(sampling), sampling.Temperature, "Temperature must be a finite number ≥ 0.");
        int v = network.Options.OutputSize;
        var rng = new Rng(sampling.Seed);
        var state = network.CreateState(1);
        var token = new int[1];
        ReadOnlySpan<float> logits = default;
        foreach (int id in prompt) { token[0] = id; logits = network.Step(state, token); }
        var result = new List<int>(sampling.MaxTokens);
        var probs = new float[v];
        for (int n = 0; n < sampling.MaxTokens; n++)
        {
            int next = Sample(logits, sampling, rng, probs);
            result.Add(next);
            token[0] = next;
            logits = network.Step(state, token);
        }
        return result;
    }

    /// <summary>Generates text after a prompt with a vocabulary.</summary>
    public static string Generate(SequenceNetwork<float> network, Vocabulary vocabulary, string prompt, SamplingOptions sampling)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(sampling);
        int[] ids = vocabulary.Encode(prompt);
        if (ids.Length == 0) throw new ArgumentException("The prompt has no tokens.", nameof(prompt));
        var generated = GenerateIds(network, ids, sampling);
        if (sampling.StopToken is not null && vocabulary.Contains(sampling.StopToken))
        {
            int stop = vocabulary.IdOf(sampling.StopToken);
            int at = generated.IndexOf(stop);
            if (at >= 0) generated.RemoveRange(at, generated.Count - at);
        }
        return vocabulary.Decode(generated);
    }

    /// <summary>Chooses one id from logits: greedy at temperature 0, otherwise softmax(z / temperature) restricted to the top k.</summary>
    public static int Sample(ReadOnlySpan<float> logits, SamplingOptions sampling, Rng rng, Span<float> scratch)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(rng);
        int v = logits.Length;
        if (sampling.Temperature == 0)
        {
            int best = 0;
            for (int i = 1; i < v; i++) if (logits[i] > logits[best]) best = i;
            return best;
        }
        Span<float> p = scratch.Slice(0, v);
        float inv = (float)(1.0 / sampling.Temperature);
        for (int i = 0; i < v; i++) p[i] = logits[i] * inv;
        if (sampling.TopK > 0 && sampling.TopK < v)
        {
            // Threshold = k-th largest value; everything below is excluded.
            var copy = p.ToArray();
            Array.Sort(copy);
            float kth = copy[v - sampling.TopK];
            for (int i = 0; i < v; i++) if (p[i] < kth) p[i] = float.NegativeInfinity;
        }
        SoftmaxCrossEntropy.Softmax<float>(p, p);
        double r = rng.NextDouble(), acc = 0;
        for (int i = 0; i < v; i++)
        {
            acc += p[i];
            if (r < acc) return i;
        }
        for (int i = v - 1; i >= 0; i--) if (p[i] > 0) return i;
        return v - 1;
    }
}
