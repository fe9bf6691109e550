using System.Reflection;
using System.Text;

namespace Microsoft.ML.FVlm.Tests.Infrastructure;

/// <summary>
/// Package assets reach the build outputs as hard links into the NuGet cache
/// (CreateHardLinksForCopyLocalIfPossible): the TorchSharp native fix must replace its output copy,
/// never write through the link into the cache that every other project shares.
/// </summary>
public class NativeFixOutputTests
{
    private const string Version = "GLIBCXX_3.4.32";

    [Test]
    public void PatchedLibraryInTheOutputLeavesTheNuGetCacheUnchanged()
    {
        const string systemLibrary = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
        if (!OperatingSystem.IsLinux() || !File.Exists(systemLibrary))
            Assert.Ignore("The fix runs only on Linux x64 builds.");
        if (Contains(File.ReadAllBytes(systemLibrary), Version))
            Assert.Ignore($"This machine's libstdc++ has {Version}: the fix leaves the library alone.");

        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        // The package version the build restored, as the TorchSharp assembly states it (e.g. "0.107.0+<commit>").
        string version = typeof(TorchSharp.torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        string cache = Path.Combine(NuGetCache(), "torchsharp", version, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.That(File.Exists(output), output);
        Assert.That(File.Exists(cache), cache);

        byte[] patched = File.ReadAllBytes(output), original = File.ReadAllBytes(cache);
        Assert.That(patched, Has.Length.EqualTo(original.Length));
        int differing = patched.Zip(original).Count(pair => pair.First != pair.Second);
        // One Vernaux entry's flags (VER_FLG_WEAK is bit 1 of a little-endian u16): one byte changes.
        Assert.That(differing, Is.EqualTo(1), "the output copy is patched and the cache's copy is not");
    }

    private static string NuGetCache() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static bool Contains(byte[] haystack, string text) =>
        haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text)) >= 0;
}
