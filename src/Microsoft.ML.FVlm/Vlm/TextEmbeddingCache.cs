using System.Collections.Concurrent;
using System.Diagnostics;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// Class-name embeddings by prompt ensembling, as CLIP and F-VLM compute them: every template is
/// filled with the name and encoded, each embedding L2-normalised, the mean taken and normalised
/// again. Results are kept per (templates, name), so a new vocabulary only encodes names not seen
/// before; the cache belongs to one model, so the model is part of its key by construction.
/// </summary>
internal sealed class TextEmbeddingCache
{
    private readonly FrozenVlm _vlm;
    private readonly ConcurrentDictionary<(string Templates, string Name), float[]> _embeddings = new();

    internal TextEmbeddingCache(FrozenVlm vlm) => _vlm = vlm;

    /// <summary>Number of cached (templates, name) embeddings.</summary>
    public int Count => _embeddings.Count;

    /// <summary>Embeddings of <paramref name="classNames"/> with the model's templates (or <paramref name="templates"/>).</summary>
    /// <returns>[C, D] float32, each row of unit length.</returns>
    /// <remarks>
    /// A prompt longer than the text encoder's context is cut (CLIP's <c>truncate=True</c>); the
    /// first time a name is encoded, one <see cref="Trace.TraceWarning(string)"/> names it with the
    /// token count of its longest prompt.
    /// </remarks>
    public Tensor Get(IReadOnlyList<string> classNames, IReadOnlyList<string>? templates = null) =>
        tensor(GetValues(classNames, templates), [classNames.Count, _vlm.Manifest.EmbeddingDim]);

    /// <summary>What <see cref="Get"/> returns, as the values of the [C, D] matrix row by row.</summary>
    public float[] GetValues(IReadOnlyList<string> classNames, IReadOnlyList<string>? templates = null)
    {
        templates ??= _vlm.PromptTemplates;
        if (templates.Count == 0) throw new ArgumentException("At least one prompt template is needed.", nameof(templates));
        string templateKey = string.Join("\n", templates);
        var missing = classNames.Distinct(StringComparer.Ordinal).Where(n => !_embeddings.ContainsKey((templateKey, n))).ToList();
        if (missing.Count > 0) Compute(missing, templates, templateKey);

        int dim = _vlm.Manifest.EmbeddingDim;
        var result = new float[classNames.Count * dim];
        for (int c = 0; c < classNames.Count; c++)
            _embeddings[(templateKey, classNames[c])].CopyTo(result, c * dim);
        return result;
    }

    private void Compute(List<string> names, IReadOnlyList<string> templates, string templateKey)
    {
        const int maxTextsPerRun = 256;
        int dim = _vlm.Manifest.EmbeddingDim;
        var prompts = new List<string>(names.Count * templates.Count);
        foreach (string name in names)
        {
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("Class names must not be empty.", nameof(names));
            foreach (string template in templates) prompts.Add(template.Replace("{}", name, StringComparison.Ordinal));
            WarnIfCut(name, prompts.GetRange(prompts.Count - templates.Count, templates.Count));
        }
        var encoded = new float[prompts.Count * dim];
        for (int start = 0; start < prompts.Count; start += maxTextsPerRun)
            _vlm.EncodeTextValues(prompts.GetRange(start, Math.Min(maxTextsPerRun, prompts.Count - start))).CopyTo(encoded, start * dim);
        for (int i = 0; i < names.Count; i++)
            _embeddings[(templateKey, names[i])] = Ensemble(encoded.AsSpan(i * templates.Count * dim, templates.Count * dim), templates.Count, dim);
    }

    /// <summary>
    /// One name's embedding from its prompts' [T, D] embeddings: each row divided by its L2 norm (at least 1e-12, as
    /// <c>functional.normalize</c>), the rows averaged, the mean normalised again. In float64, rounded to float32 once at
    /// the end: plain C#, so the vocabulary changes without TorchSharp.
    /// </summary>
    internal static float[] Ensemble(ReadOnlySpan<float> prompts, int count, int dim)
    {
        var mean = new double[dim];
        for (int t = 0; t < count; t++)
        {
            var row = prompts.Slice(t * dim, dim);
            double squares = 0;
            foreach (float value in row) squares += (double)value * value;
            double norm = Math.Max(Math.Sqrt(squares), 1e-12);
            for (int d = 0; d < dim; d++) mean[d] += row[d] / norm;
        }
        double meanSquares = 0;
        for (int d = 0; d < dim; d++)
        {
            mean[d] /= count;
            meanSquares += mean[d] * mean[d];
        }
        double meanNorm = Math.Max(Math.Sqrt(meanSquares), 1e-12);
        var unit = new float[dim];
        for (int d = 0; d < dim; d++) unit[d] = (float)(mean[d] / meanNorm);
        return unit;
    }

    /// <summary>
    /// The text tower reads a fixed number of tokens and the tokenizer cuts longer prompts, so the
    /// embedding misses the end of a long prompt: warned about once per name, when it is encoded.
    /// Token counts include the start and end tokens, as the context does.
    /// </summary>
    private void WarnIfCut(string name, IReadOnlyList<string> prompts)
    {
        int context = _vlm.Manifest.TextEncoder.ContextLength;
        int[] lengths = prompts.Select(p => _vlm.Tokenizer.Encode(p).Length).ToArray();
        int longest = Array.IndexOf(lengths, lengths.Max());
        if (lengths[longest] <= context) return;
        int nameTokens = _vlm.Tokenizer.Encode(name).Length - 2;
        Trace.TraceWarning($"Class name '{name}' ({nameTokens} token{(nameTokens == 1 ? "" : "s")}) does not fit the text encoder's context of {context} tokens: "
            + $"its longest prompt, '{prompts[longest]}', has {lengths[longest]} tokens with the start and end tokens, and {lengths.Count(l => l > context)} of {prompts.Count} prompts "
            + $"are cut to their first {context - 1} tokens and the end token. Shorten the name.");
    }

    /// <summary>Writes the embeddings of <paramref name="classNames"/> with the model's templates (computing missing ones).</summary>
    internal void Write(BinaryWriter writer, IReadOnlyList<string> classNames)
    {
        GetValues(classNames);
        string templateKey = string.Join("\n", _vlm.PromptTemplates);
        writer.Write(templateKey);
        writer.Write(_vlm.Manifest.EmbeddingDim);
        var names = classNames.Distinct(StringComparer.Ordinal).ToArray();
        writer.Write(names.Length);
        foreach (string name in names)
        {
            writer.Write(name);
            foreach (float value in _embeddings[(templateKey, name)]) writer.Write(value);
        }
    }

    /// <summary>Adds embeddings written by <see cref="Write"/> to the cache.</summary>
    internal void Read(BinaryReader reader)
    {
        string templateKey = reader.ReadString();
        int dim = reader.ReadInt32();
        if (dim != _vlm.Manifest.EmbeddingDim)
            throw new InvalidDataException($"Saved text embeddings have dimension {dim}; the VLM's is {_vlm.Manifest.EmbeddingDim}.");
        int count = reader.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            var values = new float[dim];
            for (int d = 0; d < dim; d++) values[d] = reader.ReadSingle();
            _embeddings[(templateKey, name)] = values;
        }
    }
}
