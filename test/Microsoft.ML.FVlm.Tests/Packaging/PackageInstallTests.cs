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

    // A version no earlier run used: NuGet caches packages by id and version in the global folder.
    private readonly string _version = $"0.0.1-test.{Guid.NewGuid():N}";
    private readonly string _work = Path.Combine(Path.GetTempPath(), $"fvlm-package-test-{Guid.NewGuid():N}");
    private string Packages => Path.Combine(_work, "packages");

    [OneTimeSetUp]
    public void Pack()
    {
        string configuration = typeof(PackageInstallTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        foreach (string project in s_packedProjects)
            Dotnet(RepositoryRoot.Path, "pack", Path.Combine(RepositoryRoot.Path, project), "--no-build", "-c", configuration,
                $"-p:Version={_version}", "-o", Packages);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        if (Directory.Exists(_work)) Directory.Delete(_work, recursive: true);
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (string id in new[] { "microsoft.ml.fvlm", "microsoft.ml.fvlm.shapes" })
            if (Directory.Exists(Path.Combine(cache, id, _version))) Directory.Delete(Path.Combine(cache, id, _version), recursive: true);
    }

    [Test]
    public void PackagesHoldTheLibraryTheShippedModelAndTheBuildFix()
    {
        Assert.That(Directory.GetFiles(Packages, "*.nupkg").Select(Path.GetFileName), Is.EquivalentTo(new[]
        {
            $"Microsoft.ML.FVlm.{_version}.nupkg",
            $"Microsoft.ML.FVlm.Shapes.{_version}.nupkg",
        }));
        Assert.That(Entries(Path.Combine(Packages, $"Microsoft.ML.FVlm.{_version}.nupkg")), Is.SupersetOf(new[]
        {
            "README.md", "LICENSE", "lib/net10.0/Microsoft.ML.FVlm.dll",
            "buildTransitive/Microsoft.ML.FVlm.targets", "buildTransitive/MarkElfVersionWeak.cs",
        }));
        var shapesEntries = Entries(Path.Combine(Packages, $"Microsoft.ML.FVlm.Shapes.{_version}.nupkg"));
        Assert.That(shapesEntries, Is.SupersetOf(new[]
        {
            "README.md", "LICENSE", "lib/net10.0/Microsoft.ML.FVlm.Shapes.dll",
            "contentFiles/any/any/Detector/shapes-detector.zip", "contentFiles/any/any/Vlm/manifest.json",
        }));
        var vlmFiles = Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "src", "Microsoft.ML.FVlm.Shapes", "Vlm")).Select(f => "contentFiles/any/any/Vlm/" + Path.GetFileName(f));
        Assert.That(shapesEntries, Is.SupersetOf(vlmFiles), "every file of the Shapes VLM folder");
    }

    [Test]
    public void TheLibraryAcceptsEveryMlNetOfItsRangeAndNoOther()
    {
        string nuspec = Nuspec(Path.Combine(Packages, $"Microsoft.ML.FVlm.{_version}.nupkg"));
        foreach (string id in new[] { "Microsoft.ML", "Microsoft.ML.ImageAnalytics" })
            Assert.That(nuspec, Does.Contain($"<dependency id=\"{id}\" version=\"[5.0.1, 7.0.0)\""), id);
        Assert.That(nuspec, Does.Not.Contain("Microsoft.ML.OnnxTransformer"), "the library runs its graphs with ONNX Runtime's own API");
        Assert.That(nuspec, Does.Contain("<dependency id=\"Google.Protobuf\""), "the ONNX exporter writes protobuf messages");
        Assert.That(nuspec, Does.Not.Contain("Grpc.Tools"), "the protobuf compiler is a build-time tool");
        Assert.That(nuspec, Does.Contain("<dependency id=\"SkiaSharp\" version=\"2.88.9\""), "SkiaSharp 2.88.9 or later: ML.NET 5 keeps SkiaSharp 2, ML.NET 6 lifts it to 3");
    }

    /// <summary>
    /// An application on each ML.NET major of the range restores with no NuGet warning, runs on the ML.NET it
    /// references, detects with the shipped model, and saves and reloads it with identical detections: with ML.NET's
    /// image package of the same version (and the SkiaSharp ImageAnalytics 6 needs), and on ML.NET 6 with
    /// Microsoft.ML alone, where NuGet takes ImageAnalytics 5.0.1 and SkiaSharp 2.88 from the library's dependencies.
    /// </summary>
    [TestCaseSource(nameof(Applications))]
    public void PackedPackagesInstallIntoAFreshProjectAndDetect(string mlNetVersion, string? companionsVersion, string? skiaSharpVersion)
    {
        string consumer = BuildConsumer($"consumer-{mlNetVersion}-{companionsVersion ?? "alone"}", $"-p:ConsumerMlNetVersion={mlNetVersion}",
            $"-p:ConsumerCompanionsVersion={companionsVersion}", $"-p:ConsumerSkiaSharpVersion={skiaSharpVersion}");
        string output = RunConsumer(consumer);
        Assert.That(output, Does.StartWith($"ML.NET {mlNetVersion}"), "the application runs on the ML.NET it references");
    }

    /// <summary>
    /// An application with ONNX Runtime and no libtorch package loads the shipped zip, detects, changes the vocabulary,
    /// saves and reloads: inference needs no TorchSharp native library. Its publish folder (linux-x64, framework-dependent)
    /// is measured against the same application's with libtorch.
    /// </summary>
    [Test]
    public void AnApplicationWithoutLibTorchLoadsTheShippedDetectorAndDetects()
    {
        string lowest = PackageVersions.LowestMlNet;
        string withoutTorch = BuildConsumer("consumer-no-libtorch", $"-p:ConsumerMlNetVersion={lowest}", $"-p:ConsumerCompanionsVersion={lowest}", "-p:ConsumerLibTorch=false");
        Assert.That(Directory.GetFiles(Path.Combine(withoutTorch, "bin"), "libtorch*", SearchOption.AllDirectories), Is.Empty, "the premise: no libtorch in the application");

        string output = RunConsumer(withoutTorch);
        Assert.That(output, Does.StartWith($"ML.NET {lowest}"));

        string withTorch = BuildConsumer("consumer-libtorch", $"-p:ConsumerMlNetVersion={lowest}", $"-p:ConsumerCompanionsVersion={lowest}");
        long Published(string consumer)
        {
            string folder = Path.Combine(consumer, "publish");
            Dotnet(consumer, ["publish", "-c", "Release", "-r", "linux-x64", "--self-contained", "false", "-o", folder, $"-p:FVlmPackageVersion={_version}",
                "-p:CreateHardLinksForPublishFilesIfPossible=true", .. File.ReadAllLines(Path.Combine(consumer, "properties.txt"))]);
            return Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        }
        long without = Published(withoutTorch), with = Published(withTorch);
        TestContext.Progress.WriteLine($"publish folder, linux-x64, framework-dependent: {without / 1048576.0:F0} MB without libtorch, {with / 1048576.0:F0} MB with it");
        Assert.That(Directory.GetFiles(Path.Combine(withoutTorch, "publish"), "libtorch*", SearchOption.AllDirectories), Is.Empty);
        Assert.That(with - without, Is.GreaterThan(400L << 20), "libtorch's CPU build is about 520 MB on linux-x64");
    }

    /// <summary>Copies the consumer project to <paramref name="name"/> outside the repository, with a NuGet.config of the packed packages, and builds it with <paramref name="properties"/>.</summary>
    private string BuildConsumer(string name, params string[] properties)
    {
        string consumer = Path.Combine(_work, name);
        Directory.CreateDirectory(consumer);
        foreach (string file in new[] { "PackageConsumer.csproj", "Program.cs" })
            File.Copy(Path.Combine(RepositoryRoot.Path, "test", "PackageConsumer", file), Path.Combine(consumer, file));
        File.WriteAllText(Path.Combine(consumer, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{Packages}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllLines(Path.Combine(consumer, "properties.txt"), properties);
        string build = Dotnet(consumer, ["build", "-c", "Release", $"-p:FVlmPackageVersion={_version}", .. properties]);
        Assert.That(Regex.Matches(build, @"warning NU\d+[^\n]*").Select(m => m.Value).Distinct(), Is.Empty, "NuGet warnings on restore");
        return consumer;
    }

    /// <summary>Runs the built consumer and checks what it prints: four scenes detected, a free-text vocabulary, identical detections after saving and reloading.</summary>
    private static string RunConsumer(string consumer)
    {
        string output = Dotnet(consumer, "exec", Path.Combine(consumer, "bin", "Release", "net10.0", "PackageConsumer.dll"), Path.Combine(consumer, "scenes"));
        var scenes = Regex.Matches(output, @"^scene \d: (\d+) detections, (\d+) correct at score 0\.3, (\d+) instances$", RegexOptions.Multiline);
        Assert.That(scenes, Has.Count.EqualTo(4), output);
        Assert.That(scenes.Sum(m => int.Parse(m.Groups[2].Value)), Is.GreaterThan(0), "the shipped detector finds some of the instances: " + output);
        Assert.That(output, Does.Match(@"free-text vocabulary of 3 classes: [1-9]\d* detections"), output);
        Assert.That(output, Does.Contain($"saved and reloaded: identical detections, {scenes.Sum(m => int.Parse(m.Groups[1].Value))} in all"), output);
        return output;
    }

    public static IEnumerable<TestCaseData> Applications()
    {
        string lowest = PackageVersions.LowestMlNet, next = PackageVersions.NextMlNet;
        yield return new TestCaseData(lowest, lowest, null).SetArgDisplayNames($"ML.NET {lowest}");
        yield return new TestCaseData(next, next, PackageVersions.NextSkiaSharp).SetArgDisplayNames($"ML.NET {next}");
        yield return new TestCaseData(next, null, null).SetArgDisplayNames($"Microsoft.ML {next} alone");
    }

    private static string[] Entries(string package)
    {
        using var archive = System.IO.Compression.ZipFile.OpenRead(package);
        return archive.Entries.Select(e => e.FullName).ToArray();
    }

    private static string Nuspec(string package)
    {
        using var archive = System.IO.Compression.ZipFile.OpenRead(package);
        using var reader = new StreamReader(archive.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        return reader.ReadToEnd();
    }

    /// <summary>Runs the dotnet host in <paramref name="directory"/>, isolated from the outer build, and returns its output; fails the test on a non-zero exit or after 10 minutes.</summary>
    private static string Dotnet(string directory, params string[] arguments)
    {
        var result = DotnetHost.Run(arguments, directory, isolated: true);
        Assert.That(result.ExitCode, Is.EqualTo(0), $"dotnet {string.Join(' ', arguments)} failed:\n{result.StandardOutput}\n{result.StandardError}");
        return result.StandardOutput;
    }
}
