using System.Text;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Vlm;

/// <summary>Reads NumPy .npy files (little-endian float32 / int64, C order) into tensors.</summary>
internal static partial class Npy
{
    public static Tensor Read(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        byte[] magic = reader.ReadBytes(6);
        if (magic[0] != 0x93 || Encoding.ASCII.GetString(magic, 1, 5) != "NUMPY") throw new InvalidDataException($"{path} is not a .npy file.");
        byte major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major == 1 ? reader.ReadUInt16() : (int)reader.ReadUInt32();
        string header = Encoding.ASCII.GetString(reader.ReadBytes(headerLength));
        string descr = DescrPattern().Match(header).Groups[1].Value;
        if (header.Contains("'fortran_order': True")) throw new InvalidDataException($"{path}: Fortran order is not supported.");
        long[] shape = ShapePattern().Match(header).Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        switch (descr)
        {
            case "<f4":
            {
                var values = new float[count];
                reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                return tensor(values, shape);
            }
            case "<i8":
            {
                var values = new long[count];
                reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                return tensor(values, shape);
            }
            default:
                throw new InvalidDataException($"{path}: dtype {descr} is not supported.");
        }
    }

    [GeneratedRegex(@"'descr':\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
