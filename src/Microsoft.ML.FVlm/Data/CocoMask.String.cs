namespace Microsoft.ML.FVlm.Data;

public static partial class CocoMask
{
    // The compressed counts string of COCO files: each count (from the fourth on, its difference
    // from the count two places before) is written as a signed little-endian base-32 number, five
    // bits per character plus a continuation bit (0x20), offset into the printable range by 48.

    /// <summary>The compressed counts string of a mask, byte-for-byte as pycocotools' <c>rleToString</c>.</summary>
    public static string ToCompressedString(RleMask rle)
    {
        ArgumentNullException.ThrowIfNull(rle);
        uint[] counts = rle.RawCounts;
        // A count needs at most 33 signed bits (7 characters) after delta coding.
        char[] buffer = new char[counts.Length * 7];
        int p = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            long x = counts[i];
            if (i > 2)
                x -= counts[i - 2];
            bool more = true;
            while (more)
            {
                int c = (int)(x & 0x1f);
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more)
                    c |= 0x20;
                buffer[p++] = (char)(c + 48);
            }
        }
        return new string(buffer, 0, p);
    }

    /// <summary>Parses a compressed counts string (pycocotools <c>rleFrString</c>).</summary>
    /// <param name="counts">The string from a COCO <c>"counts"</c> field.</param>
    /// <param name="height">Mask height (<c>size[0]</c>).</param>
    /// <param name="width">Mask width (<c>size[1]</c>).</param>
    /// <exception cref="FormatException">A character is outside '0'..'o', the string ends inside a
    /// count, a count is negative, or the counts do not sum to <c>height * width</c>.</exception>
    public static RleMask FromCompressedString(string counts, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var result = new uint[counts.Length];
        int m = 0, p = 0;
        while (p < counts.Length)
        {
            long x = 0;
            int k = 0;
            bool more = true;
            while (more)
            {
                if (p >= counts.Length)
                    throw new FormatException($"Compressed RLE string ends inside a count (length {counts.Length}).");
                int c = counts[p] - 48;
                if (c < 0 || c > 63)
                    throw new FormatException($"Compressed RLE string has '{counts[p]}' at position {p}; expected characters '0' to 'o'.");
                if (k > 6)
                    throw new FormatException($"Compressed RLE string has a count longer than 7 characters at position {p}.");
                x |= (long)(c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0;
                p++;
                k++;
                if (!more && (c & 0x10) != 0)
                    x |= -1L << (5 * k);
            }
            if (m > 2)
                x += result[m - 2];
            if (x < 0 || x > uint.MaxValue)
                throw new FormatException($"Compressed RLE string decodes to an invalid count {x} (count {m}).");
            result[m++] = (uint)x;
        }
        uint[] trimmed = result.AsSpan(0, m).ToArray();
        try
        {
            return new RleMask(height, width, trimmed);
        }
        catch (ArgumentException e)
        {
            throw new FormatException(e.Message, e);
        }
    }
}
