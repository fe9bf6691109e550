namespace Microsoft.ML.FVlm.Tests;

/// <summary>CLIP's reference data in <c>../shared/clip/</c> beside the repository (never copied into it).</summary>
internal static class SharedClip
{
    public static string Folder { get; } = Locate();

    public static string MergesPath => File("bpe_simple_vocab_16e6.txt.gz");

    public static string File(string name) => Path.Combine(Folder, name);

    private static string Locate()
    {
        string shared = Path.GetFullPath(Path.Combine(RepositoryRoot.Path, "..", "shared", "clip"));
        if (!Directory.Exists(shared))
            throw new DirectoryNotFoundException($"CLIP reference data expected at '{shared}' (../shared/clip beside the repository).");
        return shared;
    }
}
