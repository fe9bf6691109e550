namespace Microsoft.ML.FVlm.Shapes;

/// <summary>A rendered image with its instance map and instances (the in-memory form of one dataset image).</summary>
public sealed class ShapesScene
{
    internal ShapesScene(int index, int size, bool isCrop, byte[] pixels, byte[] instanceMap, IReadOnlyList<ShapesInstance> instances, string caption)
    {
        Index = index;
        Width = Height = size;
        IsCrop = isCrop;
        Pixels = pixels;
        InstanceMap = instanceMap;
        Instances = instances;
        Caption = caption;
    }

    /// <summary>Image index in the split (the COCO image id is <c>Index + 1</c>).</summary>
    public int Index { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>True for a single-object crop of the captions split.</summary>
    public bool IsCrop { get; }

    /// <summary>RGB bytes, row-major [Height, Width, 3]: exactly the pixels of the PNG file.</summary>
    public byte[] Pixels { get; }

    /// <summary>Row-major [Height, Width]: 0 for background, k for <c>Instances[k - 1]</c>.</summary>
    public byte[] InstanceMap { get; }

    /// <summary>Every drawn instance in drawing order (later ones occlude earlier ones), annotated or not.</summary>
    public IReadOnlyList<ShapesInstance> Instances { get; }

    /// <summary>Names every annotated object with its colour ("two blue circles and a red hexagon").</summary>
    public string Caption { get; }
}
