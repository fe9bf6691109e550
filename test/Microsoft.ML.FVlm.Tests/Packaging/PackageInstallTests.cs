using System.Reflection;
using System.Text.RegularExpressions;

namespace Microsoft.ML.FVlm.Tests.Packaging;

/// <summary>
/// Packs Microsoft.ML.FVlm and Microsoft.ML.FVlm.Shapes (from the binaries this test run built),
/// installs them from a local folder into a console project outside the repository
/// (test/PackageConsumer), builds it and runs a detection: the package dependencies, the shipped
/// content files and the TorchSharp native-library fix (buildTransitive) must all reach a
/// consumer that has nothing but the packages.
/// </summary>
[NonParallelizable]
[Category("Packaging")]
public class PackageInstallTests
{
    private static readonly string[] s_packedProjects =
    [
        "src/Microsoft.ML.FVlm/Microsoft.ML.FVlm.csproj",
        "src/Microsoft.ML.FVlm.Shapes/Microsoft.ML.FVlm.Shapes.csproj",
    ];

    [Test]
    public void PackedPackagesInstallIntoAFreshProjectAndDetect()
    {
        // A version no earlier run used: NuGet caches packages by id and version in the global folder.
        string version = $"0.0.1-test.{Guid.NewGuid():N}";
        string work = Path.Combine(Path.GetTempPath(), $"fvlm-package-test-{Guid.NewGuid():N}");
        string packages = Path.Combine(work, "packages"), consumer = Path.Combine(work, "consumer");
        string configuration = typeof(PackageInstallTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        try
        {
            foreach (string project in s_packedProjects)
                Dotnet(RepositoryRoot.Path, "pack", Path.Combine(RepositoryRoot.Path, project), "--no-build", "-c", configuration,
                    $"-p:Version={version}", "-o", packages);
            Assert.That(Directory.GetFiles(packages, "*.nupkg").Select(Path.GetFileName), Is.EquivalentTo(new[]
            {
                $"Microsoft.ML.FVlm.{version}.nupkg",
                $"Microsoft.ML.FVlm.Shapes.{version}.nupkg",
            }));
            Assert.That(Entries(Path.Combine(packages, $"Microsoft.ML.FVlm.{version}.nupkg")), Is.SupersetOf(new[]
            {
                "README.md", "LICENSE", "lib/net10.0/Microsoft.ML.FVlm.dll",
                "buildTransitive/Microsoft.ML.FVlm.targets", "buildTransitive/MarkElfVersionWeak.cs",
            }));
            var shapesEntries = Entries(Path.Combine(packages, $"Microsoft.ML.FVlm.Shapes.{version}.nupkg"));
            Assert.That(shapesEntries, Is.SupersetOf(new[]
            {
                "README.md", "LICENSE", "lib/net10.0/Microsoft.ML.FVlm.Shapes.dll",
                "contentFiles/any/any/Detector/shapes-detector.zip", "contentFiles/any/any/Vlm/manifest.json",
            }));
            var vlmFiles = Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "src", "Microsoft.ML.FVlm.Shapes", "Vlm")).Select(f => "contentFiles/any/any/Vlm/" + Path.GetFileName(f));
            Assert.That(shapesEntries, Is.SupersetOf(vlmFiles), "every file of the Shapes VLM folder");

            Directory.CreateDirectory(consumer);
            foreach (string file in new[] { "PackageConsumer.csproj", "Program.cs" })
                File.Copy(Path.Combine(RepositoryRoot.Path, "test", "PackageConsumer", file), Path.Combine(consumer, file));
            File.WriteAllText(Path.Combine(consumer, "NuGet.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{packages}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                  </packageSources>
                </configuration>
                """);
            Dotnet(consumer, "build", "-c", "Release", $"-p:FVlmPackageVersion={version}");

            string output = Dotnet(consumer, "exec", Path.Combine(consumer, "bin", "Release", "net10.0", "PackageConsumer.dll"), Path.Combine(work, "scenes"));
            var scenes = Regex.Matches(output, @"^scene \d: (\d+) detections, (\d+) correct at score 0\.3, (\d+) instances$", RegexOptions.Multiline);
            Assert.That(scenes, Has.Count.EqualTo(4), output);
            Assert.That(scenes.Sum(m => int.Parse(m.Groups[2].Value)), Is.GreaterThan(0), "the shipped detector finds some of the instances: " + output);
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set ? set
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (string id in new[] { "microsoft.ml.fvlm", "microsoft.ml.fvlm.shapes" })
                if (Directory.Exists(Path.Combine(cache, id, version))) Directory.Delete(Path.Combine(cache, id, version), recursive: true);
        }
    }

    private static string[] Entries(string package)
    {
        using var archive = System.IO.Compression.ZipFile.OpenRead(package);
        return archive.Entries.Select(e => e.FullName).ToArray();
    }

    /// <summary>Runs the dotnet host in <paramref name="directory"/>, isolated from the outer build, and returns its output; fails the test on a non-zero exit or after 10 minutes.</summary>
    private static string Dotnet(string directory, params string[] arguments)
    {
        var result = DotnetHost.Run(arguments, directory, isolated: true);
        Assert.That(result.ExitCode, Is.EqualTo(0), $"dotnet {string.Join(' ', arguments)} failed:\n{result.StandardOutput}\n{result.StandardError}");
        return result.StandardOutput;
    }
}
