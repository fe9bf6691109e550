using Microsoft.ML.FVlm.Modeling;
using TorchSharp;

namespace Microsoft.ML.FVlm.Training;

/// <summary>
/// Reads the head's section of a checkpoint without loading it and checks it against the head it
/// is meant for, so that a checkpoint of another architecture is named by its tensor and by the
/// option that differs (TorchSharp's own load says only "Mismatched tensor shape"), and a truncated
/// one by the tensor it ends in.
/// </summary>
/// <remarks>
/// TorchSharp's module layout: 7-bit encoded entry count; per entry the name (length-prefixed
/// UTF-8), then the tensor: 7-bit encoded scalar type, rank and dimensions, then its raw bytes.
/// </remarks>
internal static class CheckpointHeadState
{
    /// <summary>
    /// The options that set a dimension of the head, with the tensor and dimension that give it away;
    /// a missing tensor counts as 0 (the mask head's pixel branch). Option names are FVlmOptions'.
    /// </summary>
    private static readonly (string Option, string Tensor, int Dimension)[] Dimensions =
    [
        ("PyramidChannels", "fpn.output.0.0.weight", 0),
        ("HeadConvChannels", "roi_heads.box_head.convs.0.weight", 0),
        ("BoxHeadFcDim", "roi_heads.box_head.fc.weight", 0),
        ("MaskPixelChannels", "roi_heads.mask_head.pixel_conv.weight", 0),
        ("the VLM's embedding size", "roi_heads.classifier.background", 1),
        ("the VLM's C2 channels", "fpn.lateral.0.0.weight", 1),
        ("anchors per location", "rpn.head.objectness.weight", 0),
    ];

    /// <summary>Reads the head's section at the reader's position and throws if it does not fit <paramref name="head"/>.</summary>
    /// <param name="path">The checkpoint, for the message.</param>
    /// <param name="reader">At the start of the head's section; left after it.</param>
    /// <param name="head">The head the checkpoint is meant for.</param>
    /// <param name="section">Set to the part being read, for the caller's message if the file ends early.</param>
    public static void Check(string path, BinaryReader reader, DetectorHead head, ref string section)
    {
        var stream = reader.BaseStream;
        var here = head.state_dict().ToDictionary(p => p.Key, p => (p.Value.dtype, Shape: p.Value.shape));
        var found = new Dictionary<string, long[]>();
        string? mismatch = null;
        long count = reader.Read7BitEncodedInt64();
        for (long i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            section = $"tensor '{name}'";
            var type = (torch.ScalarType)reader.Read7BitEncodedInt64();
            var shape = new long[reader.Read7BitEncodedInt64()];
            for (int d = 0; d < shape.Length; d++) shape[d] = reader.Read7BitEncodedInt64();
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * ElementSize(type);
            if (stream.Length - stream.Position < bytes) throw new EndOfStreamException();
            stream.Seek(bytes, SeekOrigin.Current);
            found[name] = shape;
            if (mismatch is not null) continue;
            if (!here.TryGetValue(name, out var expected))
                mismatch = $"its tensor '{name}' {Format(shape)} is not in this head";
            else if (!expected.Shape.SequenceEqual(shape))
                mismatch = $"tensor '{name}' is {Format(shape)} in the checkpoint and {Format(expected.Shape)} here";
            else if (expected.dtype != type)
                mismatch = $"tensor '{name}' is {type} in the checkpoint and {expected.dtype} here";
        }
        mismatch ??= here.Keys.FirstOrDefault(k => !found.ContainsKey(k)) is { } absent
            ? $"this head's tensor '{absent}' {Format(here[absent].Shape)} is not in the checkpoint" : null;
        if (mismatch is null) return;

        var differing = Dimensions
            .Select(d => (d.Option, Checkpoint: Size(found, d.Tensor, d.Dimension), Here: Size(here.ToDictionary(p => p.Key, p => p.Value.Shape), d.Tensor, d.Dimension)))
            .Where(d => d.Checkpoint != d.Here)
            .Select(d => $"{d.Option} is {d.Checkpoint} in the checkpoint and {d.Here} here")
            .ToList();
        string cause = differing.Count > 0
            ? string.Join(", ", differing) + ". Resume with the options of the run that wrote it"
            : "no option of the head explains it: was it written by another version of this library?";
        throw new InvalidDataException($"Checkpoint '{path}' does not fit this detector head: {mismatch}; {cause}.");
    }

    private static long Size(IReadOnlyDictionary<string, long[]> shapes, string tensor, int dimension) =>
        shapes.TryGetValue(tensor, out var shape) && dimension < shape.Length ? shape[dimension] : 0;

    private static long ElementSize(torch.ScalarType type)
    {
        using var probe = torch.empty(0, dtype: type);
        return probe.ElementSize;
    }

    private static string Format(long[] shape) => $"[{string.Join(", ", shape)}]";
}
