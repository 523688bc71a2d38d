using System;
using System.Collections.Generic;
using System.IO;

namespace Rnn.MLNet.Data;

/// <summary>
/// Reads CoNLL-U (Universal Dependencies) into <see cref="TaggedSentence"/>s of FORM and UPOS: ten tab-separated columns per word line, sentences separated by blank lines,
/// comment lines starting with <c>#</c>. Only lines whose ID is a plain integer are words; multiword-token ranges
/// (<c>3-4</c>) and empty nodes (<c>8.1</c>) are skipped, as UPOS accuracy is measured on syntactic words.
/// </summary>
public static class Conllu
{
    /// <summary>Reads every sentence of a file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is malformed; the message names the file, the line number and what was expected.</exception>
    public static List<TaggedSentence> ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"The CoNLL-U file '{path}' does not exist.", path);
        using var reader = new StreamReader(path);
        return Read(reader, path);
    }

    /// <summary>Reads every sentence from a reader; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="InvalidDataException">A line is malformed.</exception>
    public static List<TaggedSentence> Read(TextReader reader, string source = "input")
    {
        ArgumentNullException.ThrowIfNull(reader);
        var sentences = new List<TaggedSentence>();
        var forms = new List<string>();
        var tags = new List<string>();
        void Flush()
        {
            if (forms.Count > 0) sentences.Add(new TaggedSentence(forms.ToArray(), tags.ToArray()));
            forms.Clear();
            tags.Clear();
        }
        int lineNo = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
            if (line.Trim().Length == 0) { Flush(); continue; }
            if (line[0] == '#') continue;
            var cols = line.Split('\t');
            if (cols.Length != 10)
                throw new InvalidDataException($"{source}, line {lineNo}: {cols.Length} tab-separated columns; a CoNLL-U word line has 10 (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC).");
            string id = cols[0];
            if (id.Contains('-', StringComparison.Ordinal) || id.Contains('.', StringComparison.Ordinal)) continue; // multiword token or empty node
            if (!int.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1)
                throw new InvalidDataException($"{source}, line {lineNo}: ID '{id}'; expected a positive integer, a range 'a-b' or an empty node 'a.b'.");
            if (n != forms.Count + 1)
                throw new InvalidDataException($"{source}, line {lineNo}: word ID {n} follows word {forms.Count}; IDs must count up from 1 (is a blank line missing between sentences?).");
            if (cols[1].Length == 0 || cols[3].Length == 0 || cols[3] == "_")
                throw new InvalidDataException($"{source}, line {lineNo}: empty FORM or UPOS ('{cols[1]}', '{cols[3]}'); every word needs both.");
            forms.Add(cols[1]);
            tags.Add(cols[3]);
        }
        Flush();
        return sentences;
    }
}
