using System.Runtime.InteropServices;
using SkiaSharp;

namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// The reusable buffers for one image size on one thread: the RGBA image, a one-byte coverage mask into
/// which each shape is rasterised without anti-aliasing, and the instance-id map.
/// </summary>
internal sealed class SceneSurface : IDisposable
{
    public SceneSurface(int size)
    {
        Size = size;
        Image = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        ImageCanvas = new SKCanvas(Image);
        Coverage = new SKBitmap(new SKImageInfo(size, size, SKColorType.Alpha8, SKAlphaType.Premul));
        CoverageCanvas = new SKCanvas(Coverage);
        CoverageCanvas.Clear(SKColors.Transparent);
        Ids = new byte[size * size];
    }

    public int Size { get; }

    public SKBitmap Image { get; }

    public SKCanvas ImageCanvas { get; }

    public SKBitmap Coverage { get; }

    public SKCanvas CoverageCanvas { get; }

    /// <summary>Row-major [Size, Size]; 0 background, k the k-th instance drawn.</summary>
    public byte[] Ids { get; }

    /// <summary>The image as little-endian RGBA8888 words, row-major.</summary>
    public Span<uint> Pixels => MemoryMarshal.Cast<byte, uint>(Bytes(Image));

    /// <summary>The coverage mask, row-major, 0 or 255. Kept all zero between shapes.</summary>
    public Span<byte> CoverageBytes => Bytes(Coverage);

    private static unsafe Span<byte> Bytes(SKBitmap bitmap) =>
        new((void*)bitmap.GetPixels(), bitmap.ByteCount);

    public void Dispose()
    {
        ImageCanvas.Dispose();
        Image.Dispose();
        CoverageCanvas.Dispose();
        Coverage.Dispose();
    }
}
