using System.Reflection;

namespace Microsoft.ML.FVlm.Tests.Packaging;

/// <summary>The versions Directory.Packages.props names, recorded in this assembly by the test project.</summary>
internal static class PackageVersions
{
    /// <summary>The lowest Microsoft.ML of the range: the one the library compiles against.</summary>
    public static string LowestMlNet { get; } = Metadata("LowestMlNetVersion");

    /// <summary>The next ML.NET major the tests run the library on.</summary>
    public static string NextMlNet { get; } = Metadata("NextMlNetVersion");

    /// <summary>The SkiaSharp that the next ML.NET's ImageAnalytics needs.</summary>
    public static string NextSkiaSharp { get; } = Metadata("NextSkiaSharpVersion");

    private static string Metadata(string key) => typeof(PackageVersions).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
