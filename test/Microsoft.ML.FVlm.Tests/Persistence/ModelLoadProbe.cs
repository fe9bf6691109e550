using System.Reflection;
using System.Text.Json;

namespace Microsoft.ML.FVlm.Tests.Persistence;

/// <summary>
/// Runs test/Microsoft.ML.FVlm.ModelLoadProbe in a new process: it loads a model zip and prints the
/// transformed rows. The test project builds the probe (a ProjectReference without its assembly)
/// and records its path as assembly metadata.
/// </summary>
internal static class ModelLoadProbe
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError);

    public static string DllPath { get; } = typeof(ModelLoadProbe).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ModelLoadProbePath").Value!;

    /// <summary>Runs the probe's <c>detect</c> mode: an image model on image files.</summary>
    public static Result RunDetect(string zipPath, IEnumerable<string> images) => Start(["detect", zipPath, .. images]);

    /// <summary>Runs the probe on <paramref name="zipPath"/> with one input row per element of <paramref name="rows"/>.</summary>
    public static Result Run(string zipPath, params float[][] rows) =>
        Start([zipPath, .. rows.Select(row => string.Join(',', row.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))))]);

    private static Result Start(IReadOnlyList<string> arguments)
    {
        Assert.That(File.Exists(DllPath), Is.True, $"The model-load probe was not built at {DllPath}.");
        var result = DotnetHost.Run(["exec", DllPath, .. arguments]);
        return new Result(result.ExitCode, result.StandardOutput, result.StandardError);
    }

    /// <summary>The values of <paramref name="column"/> in each printed row.</summary>
    public static float[][] Column(Result result, string column)
    {
        Assert.That(result.ExitCode, Is.EqualTo(0), "The probe failed: " + result.StandardError);
        var rows = JsonSerializer.Deserialize<List<Dictionary<string, float[]>>>(result.StandardOutput)!;
        return rows.Select(r => r[column]).ToArray();
    }
}
