using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.FVlm.Onnx;

/// <summary>
/// float32 arrays in NumPy's <c>.npy</c> format, version 1.0 (<c>numpy.lib.format</c>): the magic string, a header
/// dictionary <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (...), }</c> padded with spaces to a multiple of
/// 64 bytes and ended by a newline, then the values little-endian in C order. <c>numpy.load</c> reads what
/// <see cref="Write"/> writes; <see cref="Read"/> reads exactly this kind of file (other types and layouts are refused).
/// </summary>
internal static partial class NpyFile
{
    // The byte 0x93, then "NUMPY" in ASCII.
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes <paramref name="values"/> of shape <paramref name="shape"/> to <paramref name="path"/> (a temporary file moved into place).</summary>
    public static void Write(string path, ReadOnlySpan<float> values, params long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (shape.Any(d => d < 0) || count != values.Length)
            throw new ArgumentException($"{values.Length} values for the shape ({string.Join(", ", shape)}).", nameof(shape));
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
        string dictionary = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int unpadded = Magic.Length + 2 + 2 + dictionary.Length + 1;
        string header = dictionary + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        if (header.Length > ushort.MaxValue) throw new ArgumentException($"A shape of {shape.Length} dimensions does not fit a version 1.0 header.", nameof(shape));

        string temporary = path + ".partial";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            stream.Write(Magic);
            stream.Write([1, 0, (byte)(header.Length & 0xff), (byte)(header.Length >> 8)]);
            stream.Write(Encoding.ASCII.GetBytes(header));
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("The .npy writer writes '<f4' from a little-endian machine only.");
            stream.Write(MemoryMarshal.AsBytes(values));
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a float32, C-order <c>.npy</c> file of version 1.0 to 3.0.</summary>
    /// <exception cref="InvalidDataException">The file is not such an array; the message names the file and what it holds.</exception>
    public static (float[] Values, long[] Shape) Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"'{path}' is not a NumPy .npy file (no \\x93NUMPY magic string).");
        int major = bytes[6];
        (int headerLength, int offset) = major switch
        {
            1 => (bytes[8] | bytes[9] << 8, 10),
            2 or 3 when bytes.Length >= 12 => (BitConverter.ToInt32(bytes, 8), 12),
            _ => throw new InvalidDataException($"'{path}' is a .npy file of version {major}.{bytes[7]}; versions 1.0 to 3.0 are read."),
        };
        if (headerLength < 0 || offset + headerLength > bytes.Length) throw new InvalidDataException($"'{path}': the .npy header runs past the end of the file.");
        string header = Encoding.UTF8.GetString(bytes, offset, headerLength);
        var match = HeaderPattern().Match(header);
        if (!match.Success)
            throw new InvalidDataException($"'{path}' holds an array NumPy describes as {header.Trim()}; expected float32 ('<f4') in C order (fortran_order False).");
        long[] shape = match.Groups["shape"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        int start = offset + headerLength;
        if (bytes.Length - start != count * sizeof(float))
            throw new InvalidDataException($"'{path}': the shape ({string.Join(", ", shape)}) needs {count * sizeof(float)} bytes of values; the file has {bytes.Length - start}.");
        return (MemoryMarshal.Cast<byte, float>(bytes.AsSpan(start)).ToArray(), shape);
    }

    [GeneratedRegex(@"^\{\s*'descr':\s*'<f4',\s*'fortran_order':\s*False,\s*'shape':\s*\((?<shape>[0-9,\s]*)\),?\s*\}\s*$")]
    private static partial Regex HeaderPattern();
}
