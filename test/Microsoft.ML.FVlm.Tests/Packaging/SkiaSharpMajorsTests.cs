using System.Text.RegularExpressions;

namespace Microsoft.ML.FVlm.Tests.Packaging;

/// <summary>
/// The code that draws (the Shapes world, the CLI's pictures) compiles against SkiaSharp 3 as well as the 2.88 it is
/// built with: ML.NET 6's ImageAnalytics lifts an application to SkiaSharp 3, where 2.88's text API is obsolete
/// (an error here, warnings being errors) and encoders return null on failure.
/// </summary>
[NonParallelizable]
[Category("Packaging")]
public class SkiaSharpMajorsTests
{
    [Test]
    public void TheDrawingCodeCompilesAgainstSkiaSharp3WithoutWarnings()
    {
        string artifacts = Path.Combine(Path.GetTempPath(), $"fvlm-skiasharp3-{Guid.NewGuid():N}");
        try
        {
            var result = DotnetHost.Run(["build", Path.Combine(RepositoryRoot.Path, "src", "Microsoft.ML.FVlm.Cli", "Microsoft.ML.FVlm.Cli.csproj"),
                $"-p:FVlmSkiaSharpVersion={PackageVersions.NextSkiaSharp}", "--artifacts-path", artifacts], RepositoryRoot.Path, isolated: true);
            Assert.That(result.ExitCode, Is.EqualTo(0), result.StandardOutput + result.StandardError);
            Assert.That(Regex.Matches(result.StandardOutput, @"warning [A-Z]+\d+[^\n]*").Select(m => m.Value).Distinct(), Is.Empty);
            string assets = File.ReadAllText(Path.Combine(artifacts, "obj", "Microsoft.ML.FVlm.Shapes", "project.assets.json"));
            Assert.That(assets, Does.Contain($"\"SkiaSharp/{PackageVersions.NextSkiaSharp}\""), "the premise: the Shapes world was compiled against SkiaSharp 3");
        }
        finally
        {
            if (Directory.Exists(artifacts)) Directory.Delete(artifacts, recursive: true);
        }
    }
}
