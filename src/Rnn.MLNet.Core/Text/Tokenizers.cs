using System;
using System.Collections.Generic;
using System.Linq;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Rnn.MLNet.Text;

/// <summary>Which tokenizer splits text into tokens.</summary>
public enum TokenizerKind
{
    /// <summary>One token per user-perceived character (grapheme cluster): emoji and combining marks stay whole.</summary>
    Character,

    /// <summary>Words and single punctuation marks; whitespace separates and is dropped.</summary>
    Word,

    /// <summary>Whitespace-separated tokens taken as they are (pre-tokenized text, Penn Treebank style).</summary>
    Whitespace,
}

/// <summary>Splits text into tokens and joins tokens back into text.</summary>
public abstract class Tokenizer
{
    /// <summary>The kind of this tokenizer.</summary>
    public abstract TokenizerKind Kind { get; }

    /// <summary>Splits text into tokens. Null is treated as empty.</summary>
    public abstract List<string> Split(string? text);

    /// <summary>Joins tokens into text; <c>Split(Join(tokens))</c> gives the tokens back.</summary>
    public abstract string Join(IEnumerable<string> tokens);

    /// <summary>
    /// Where each token of <paramref name="tokens"/> (as <see cref="Split"/> gave them for <paramref name="text"/>, in order)
    /// lies in the text: (start, length). A token not found after the previous one gets an empty span there.
    /// </summary>
    public static (int Start, int Length)[] Locate(string text, IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(tokens);
        var spans = new (int Start, int Length)[tokens.Count];
        int at = 0;
        for (int i = 0; i < spans.Length; i++)
        {
            int found = string.IsNullOrEmpty(tokens[i]) ? -1 : text.IndexOf(tokens[i], at, StringComparison.Ordinal);
            spans[i] = found < 0 ? (at, 0) : (found, tokens[i].Length);
            if (found >= 0) at = found + tokens[i].Length;
        }
        return spans;
    }

    /// <summary>The tokenizer of a kind.</summary>
    public static Tokenizer Create(TokenizerKind kind) => kind switch
    {
        TokenizerKind.Character => new CharacterTokenizer(),
        TokenizerKind.Word => new WordTokenizer(),
        TokenizerKind.Whitespace => new WhitespaceTokenizer(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown tokenizer kind."),
    };
}

/// <summary>Character tokenizer over grapheme clusters; <c>Join(Split(s)) == s</c> for every string, lone surrogates included.</summary>
public sealed class CharacterTokenizer : Tokenizer
{
    /// <inheritdoc />
    public override TokenizerKind Kind => TokenizerKind.Character;

    /// <inheritdoc />
    public override List<string> Split(string? text)
    {
        var tokens = new List<string>(text?.Length ?? 0);
        if (string.IsNullOrEmpty(text)) return tokens;
        var e = StringInfo.GetTextElementEnumerator(text);
        while (e.MoveNext()) tokens.Add(e.GetTextElement());
        return tokens;
    }

    /// <inheritdoc />
    public override string Join(IEnumerable<string> tokens) => string.Concat(tokens);
}

/// <summary>
/// Word tokenizer: runs of letters/digits (with inner apostrophes), and single punctuation or symbol characters — a
/// surrogate pair (an emoji) counts as one character, followed by its combining marks and variation selectors.
/// </summary>
public sealed partial class WordTokenizer : Tokenizer
{
    /// <summary>The regular expression whose matches are the tokens (.NET syntax, culture-invariant).</summary>
    public const string Pattern = @"[\p{L}\p{M}\p{N}_]+(?:'[\p{L}\p{M}\p{N}_]+)*|(?:[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\s\p{L}\p{M}\p{N}_])[\p{M}\uFE0E\uFE0F]*";

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex TokenPattern();

    /// <inheritdoc />
    public override TokenizerKind Kind => TokenizerKind.Word;

    /// <inheritdoc />
    public override List<string> Split(string? text)
    {
        var tokens = new List<string>();
        if (string.IsNullOrEmpty(text)) return tokens;
        foreach (Match m in TokenPattern().Matches(text)) tokens.Add(m.Value);
        return tokens;
    }

    /// <inheritdoc />
    public override string Join(IEnumerable<string> tokens) => string.Join(' ', tokens);
}

/// <summary>Splits on whitespace only.</summary>
public sealed class WhitespaceTokenizer : Tokenizer
{
    private static readonly char[] s_separators = { ' ', '\t', '\n', '\r', '\f', '\v' };

    /// <inheritdoc />
    public override TokenizerKind Kind => TokenizerKind.Whitespace;

    /// <inheritdoc />
    public override List<string> Split(string? text) =>
        string.IsNullOrEmpty(text) ? new List<string>() : new List<string>(text.Split(s_separators, StringSplitOptions.RemoveEmptyEntries));

    /// <inheritdoc />
    public override string Join(IEnumerable<string> tokens) => string.Join(' ', tokens);
}

/// <summary>
/// A token ↔ id map built from training text: most frequent tokens first (ties by ordinal order, so it is deterministic),
/// an optional unknown token at id 0 for everything else, and a size limit.
/// </summary>
public sealed class Vocabulary
{
    /// <summary>The unknown token's text.</summary>
    public const string UnknownToken = "<unk>";

    private readonly Dictionary<string, int> _ids;

    /// <summary>Tokens by id.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>The tokenizer used to split text.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>Id of the unknown token, or −1 when unknown tokens are an error.</summary>
    public int UnknownId { get; }

    /// <summary>Number of ids.</summary>
    public int Count => Tokens.Count;

    /// <summary>Creates a vocabulary from its token list (id = index).</summary>
    public Vocabulary(Tokenizer tokenizer, IReadOnlyList<string> tokens)
    {
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0) throw new ArgumentException("A vocabulary needs at least one token.", nameof(tokens));
        _ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] is null) throw new ArgumentException($"Token {i} is null.", nameof(tokens));
            if (!_ids.TryAdd(tokens[i], i)) throw new ArgumentException($"Token '{tokens[i]}' appears twice (ids {_ids[tokens[i]]} and {i}).", nameof(tokens));
        }
        Tokens = tokens;
        UnknownId = _ids.TryGetValue(UnknownToken, out int u) ? u : -1;
    }

    /// <summary>
    /// Builds a vocabulary from texts. <paramref name="maxSize"/> (0 = no limit) counts the unknown token;
    /// <paramref name="addUnknown"/> adds <c>&lt;unk&gt;</c> at id 0 (always added when the limit drops tokens).
    /// </summary>
    public static Vocabulary Build(IEnumerable<string?> texts, Tokenizer tokenizer, int maxSize = 0, bool addUnknown = true, int minCount = 1)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return CountTokens(texts.SelectMany(tokenizer.Split), tokenizer, maxSize, addUnknown, minCount, nameof(texts));
    }

    /// <summary>
    /// Builds a vocabulary from tokens already split (e.g. a token column), with the rules of <see cref="Build"/>;
    /// <paramref name="tokenizer"/> is the one <see cref="Encode"/> and <see cref="Decode"/> will use.
    /// </summary>
    public static Vocabulary FromTokens(IEnumerable<string> tokens, Tokenizer tokenizer, int maxSize = 0, bool addUnknown = true, int minCount = 1)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return CountTokens(tokens, tokenizer, maxSize, addUnknown, minCount, nameof(tokens));
    }

    private static Vocabulary CountTokens(IEnumerable<string> tokens, Tokenizer tokenizer, int maxSize, bool addUnknown, int minCount, string paramName)
    {
        if (maxSize < 0) throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize, "maxSize must be 0 (no limit) or positive.");
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var tok in tokens)
            counts[tok] = counts.TryGetValue(tok, out long c) ? c + 1 : 1;
        counts.Remove(UnknownToken);
        var ordered = new List<KeyValuePair<string, long>>(counts);
        ordered.RemoveAll(kv => kv.Value < minCount);
        ordered.Sort((a, b) => a.Value != b.Value ? b.Value.CompareTo(a.Value) : string.CompareOrdinal(a.Key, b.Key));
        bool truncated = maxSize > 0 && ordered.Count > maxSize - (addUnknown ? 1 : 0);
        bool unk = addUnknown || truncated || ordered.Count < counts.Count;
        int keep = maxSize > 0 ? System.Math.Min(ordered.Count, maxSize - (unk ? 1 : 0)) : ordered.Count;
        if (keep < 0) keep = 0;
        var list = new List<string>(keep + 1);
        if (unk) list.Add(UnknownToken);
        for (int i = 0; i < keep; i++) list.Add(ordered[i].Key);
        if (list.Count == 0) throw new ArgumentException("The texts contain no tokens; cannot build a vocabulary from empty data.", paramName);
        return new Vocabulary(tokenizer, list);
    }

    /// <summary>The end-of-sequence token of a target vocabulary (<see cref="BuildTarget"/>).</summary>
    public const string EndToken = "</s>";

    /// <summary>
    /// A target vocabulary for an encoder–decoder: <see cref="EndToken"/> at id 0 (the network's end-of-sequence id), then
    /// the tokens of <paramref name="texts"/> by frequency; no unknown token (a target token outside it is an error) unless
    /// <paramref name="minCount"/> &gt; 1: then tokens seen fewer times are left to <see cref="UnknownToken"/> at id 1, which
    /// also stands for target tokens never seen in training.
    /// </summary>
    /// <exception cref="ArgumentException">A text contains <see cref="EndToken"/>, or the texts have no tokens.</exception>
    public static Vocabulary BuildTarget(IEnumerable<string?> texts, Tokenizer tokenizer, int minCount = 1)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var list = texts.ToList();
        if (list.Any(t => t is not null && t.Contains(EndToken, StringComparison.Ordinal)))
            throw new ArgumentException($"A target text contains the reserved end-of-sequence token '{EndToken}'.", nameof(texts));
        var tokens = new List<string> { EndToken };
        if (list.Any(t => tokenizer.Split(t).Count > 0)) tokens.AddRange(Build(list, tokenizer, addUnknown: minCount > 1, minCount: minCount).Tokens);
        if (tokens.Count < 2) throw new ArgumentException("The target texts contain no tokens: there is nothing to learn to generate.", nameof(texts));
        return new Vocabulary(tokenizer, tokens);
    }

    /// <summary>The id of a token; the unknown id for unseen tokens, or an exception when there is none.</summary>
    public int IdOf(string token)
    {
        if (_ids.TryGetValue(token, out int id)) return id;
        if (UnknownId >= 0) return UnknownId;
        throw new ArgumentException($"Token '{token}' is not in the vocabulary and the vocabulary has no unknown token.", nameof(token));
    }

    /// <summary>True if the token has its own id.</summary>
    public bool Contains(string token) => _ids.ContainsKey(token);

    /// <summary>Splits and maps a text to ids.</summary>
    public int[] Encode(string? text)
    {
        var toks = Tokenizer.Split(text);
        var ids = new int[toks.Count];
        for (int i = 0; i < ids.Length; i++) ids[i] = IdOf(toks[i]);
        return ids;
    }

    /// <summary>Maps ids back to text.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var toks = new List<string>();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(ids), id, $"Id {id} is outside the vocabulary [0, {Count}).");
            toks.Add(Tokens[id]);
        }
        return Tokenizer.Join(toks);
    }
}
