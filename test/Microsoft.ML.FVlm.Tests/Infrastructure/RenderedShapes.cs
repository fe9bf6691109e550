using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Tests;

/// <summary>A Shapes split rendered into a fresh temporary folder, deleted on dispose.</summary>
internal sealed class RenderedShapes : IDisposable
{
    private readonly ShapesSplit _split;

    public RenderedShapes(ShapesOptions options, string purpose)
    {
        _split = options.Split;
        Folder = Path.Combine(Path.GetTempPath(), $"fvlm-{purpose}-{Guid.NewGuid():N}");
        new ShapesGenerator(options).Generate(Folder);
    }

    /// <summary>The folder the split's JSON and image files' <c>file_name</c> are relative to.</summary>
    public string Folder { get; }

    /// <summary>The split's annotations, read from its JSON.</summary>
    public CocoDataset ReadDataset() => CocoJson.ReadDataset(Path.Combine(Folder, ShapesGenerator.AnnotationFileName(_split)));

    /// <summary>The rendered images' paths, in file-name order.</summary>
    public string[] ImagePaths() => Directory.GetFiles(Path.Combine(Folder, ShapesGenerator.ImageFolderName(_split)), "*.png").Order().ToArray();

    public void Dispose()
    {
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }
}
