namespace Microsoft.ML.FVlm.Tests.Shapes;

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class ShapesTestFolder : IDisposable
{
    public ShapesTestFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fvlm-shapes-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (Directory.Exists(Path))
            Directory.Delete(Path, recursive: true);
    }
}
