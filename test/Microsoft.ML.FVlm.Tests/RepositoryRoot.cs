namespace Microsoft.ML.FVlm.Tests;

/// <summary>The repository root: the folder above the test binaries that holds the solution.</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Locate();

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Microsoft.ML.FVlm.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Could not find the repository root (Microsoft.ML.FVlm.sln) above the test binaries.");
    }
}
