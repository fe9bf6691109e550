namespace Microsoft.ML.FVlm.Tests;

/// <summary>CLIP's reference data in <c>../shared/clip/</c> beside the repository (never copied into it).</summary>
internal static class SharedClip
{
    public static string Folder { get; } = Locate();

    public static string MergesPath => File("bpe_simple_vocab_16e6.txt.gz");

    public static string File(string name) => Path.Combine(Folder, name);

    private static string Locate()
    {
        // Walk up from the test binaries to the repository root (the folder holding the solution).
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.FVlm.sln")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "clip"));
                if (!Directory.Exists(shared))
                    throw new DirectoryNotFoundException($"CLIP reference data expected at '{shared}' (../shared/clip beside the repository).");
                return shared;
            }
        }
        throw new DirectoryNotFoundException("Could not find the repository root (Microsoft.ML.FVlm.sln) above the test binaries.");
    }
}
