using System.Globalization;
using System.IO;
using System.Linq;
using Rnn.MLNet.Serialization;

namespace Rnn.MLNet.Persistence;

/// <summary>
/// How an ensemble lives in one model file: the first member is the file itself (with everything the members share), the
/// count is the property <c>members</c>, and every other member's own model file (its network only, with a member kind)
/// is packed as text into the list <c>member{i}</c>.
/// </summary>
internal static class EnsembleMembers
{
    /// <summary>Characters per list entry of a member's packed model file (the model file's strings hold at most 2^20).</summary>
    private const int ChunkChars = 1 << 19;

    /// <summary>Writes the member count and packs members 1.. (member 0 is <paramref name="file"/> itself).</summary>
    public static void Write(ModelFile file, System.Collections.Generic.IReadOnlyList<ModelFile> members, string memberKind)
    {
        file.Properties["members"] = members.Count.ToString(CultureInfo.InvariantCulture);
        for (int i = 1; i < members.Count; i++)
        {
            var member = members[i];
            member.Properties["kind"] = memberKind;
            string packed = PayloadText.Encode(member.ToBytes());
            file.Lists["member" + i.ToString(CultureInfo.InvariantCulture)] = Enumerable.Range(0, (packed.Length + ChunkChars - 1) / ChunkChars)
                .Select(c => packed.Substring(c * ChunkChars, System.Math.Min(ChunkChars, packed.Length - c * ChunkChars))).ToArray();
        }
    }

    /// <summary>The member files: <paramref name="file"/> itself, then the packed ones (1 member when the count is absent).</summary>
    /// <exception cref="InvalidDataException">The count is invalid, a member is missing, or one is not a <paramref name="memberKind"/>.</exception>
    public static ModelFile[] Read(ModelFile file, string memberKind, string description)
    {
        int count = 1;
        if (file.Properties.TryGetValue("members", out string? m) && (!int.TryParse(m, NumberStyles.Integer, CultureInfo.InvariantCulture, out count) || count < 1 || count > 100))
            throw new InvalidDataException($"Invalid ensemble member count '{m}'.");
        var files = new ModelFile[count];
        files[0] = file;
        for (int i = 1; i < count; i++)
        {
            if (!file.Lists.TryGetValue("member" + i.ToString(CultureInfo.InvariantCulture), out var chunks))
                throw new InvalidDataException($"The model announces {count} ensemble members but lacks member {i}.");
            files[i] = ModelFile.Read(PayloadText.Decode(string.Concat(chunks)));
            if (files[i].RequireProperty("kind") != memberKind) throw new InvalidDataException($"Ensemble member {i} is a '{files[i].RequireProperty("kind")}', not a {description} member.");
        }
        return files;
    }
}
