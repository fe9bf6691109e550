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

    /// <summary>The probe on this test project's ML.NET.</summary>
    public static string DllPath { get; } = Metadata("ModelLoadProbePath");

    /// <summary>The probe on the other ML.NET major of the supported range (the next one from the main tests, the lowest from the ML.NET 6 tests).</summary>
    public static string OtherMlNetDllPath { get; } = Metadata("OtherMlNetModelLoadProbePath");

    /// <summary>Runs the probe's <c>detect</c> mode: an image model on image files.</summary>
    public static Result RunDetect(string zipPath, IEnumerable<string> images, bool otherMlNet = false) =>
        Start(["detect", zipPath, .. images], otherMlNet ? OtherMlNetDllPath : DllPath);

    /// <summary>The Microsoft.ML version the probe runs on.</summary>
    public static string MlNetVersion(bool otherMlNet = false)
    {
        var result = Start(["version"], otherMlNet ? OtherMlNetDllPath : DllPath);
        Assert.That(result.ExitCode, Is.EqualTo(0), result.StandardError);
        return result.StandardOutput.Trim();
    }

    /// <summary>Runs the probe on <paramref name="zipPath"/> with one input row per element of <paramref name="rows"/>.</summary>
    public static Result Run(string zipPath, params float[][] rows) =>
        Start([zipPath, .. rows.Select(row => string.Join(',', row.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))))]);

    private static Result Start(IReadOnlyList<string> arguments, string? dllPath = null)
    {
        dllPath ??= DllPath;
        Assert.That(File.Exists(dllPath), Is.True, $"The model-load probe was not built at {dllPath}.");
        var result = DotnetHost.Run(["exec", dllPath, .. arguments]);
        return new Result(result.ExitCode, result.StandardOutput, result.StandardError);
    }

    private static string Metadata(string key) => typeof(ModelLoadProbe).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == key).Value!;

    /// <summary>One image's detections as the probe's <c>detect</c> mode prints them (labels by name, masks as COCO strings).</summary>
    public sealed record Detections(string[] Labels, float[] Scores, float[] Boxes, string[] Masks);

    /// <summary>The detections the <c>detect</c> mode printed, one per image; fails the test if the probe failed.</summary>
    public static Detections[] ReadDetections(Result result)
    {
        Assert.That(result.ExitCode, Is.EqualTo(0), "The probe failed: " + result.StandardError);
        using var json = JsonDocument.Parse(result.StandardOutput);
        return ParseDetections(json);
    }

    /// <summary>Detections as the <c>detect</c> mode prints them: one JSON array, an object per image.</summary>
    public static Detections[] ParseDetections(JsonDocument json)
    {
        return json.RootElement.EnumerateArray().Select(row => new Detections(
            row.GetProperty("labels").EnumerateArray().Select(e => e.GetString()!).ToArray(),
            row.GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
            row.GetProperty("boxes").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
            row.GetProperty("masks").EnumerateArray().Select(e => e.GetString()!).ToArray())).ToArray();
    }

    /// <summary>Asserts that the probe printed <paramref name="expected"/>, image by image and field by field, exactly.</summary>
    public static void AssertDetections(Result result, IReadOnlyList<Detections> expected)
    {
        var printed = ReadDetections(result);
        Assert.That(printed, Has.Length.EqualTo(expected.Count));
        for (int i = 0; i < printed.Length; i++)
        {
            Assert.That(printed[i].Labels, Is.EqualTo(expected[i].Labels), $"image {i} labels");
            Assert.That(printed[i].Scores, Is.EqualTo(expected[i].Scores), $"image {i} scores");
            Assert.That(printed[i].Boxes, Is.EqualTo(expected[i].Boxes), $"image {i} boxes");
            Assert.That(printed[i].Masks, Is.EqualTo(expected[i].Masks), $"image {i} masks");
        }
    }

    /// <summary>The values of <paramref name="column"/> in each printed row.</summary>
    public static float[][] Column(Result result, string column)
    {
        Assert.That(result.ExitCode, Is.EqualTo(0), "The probe failed: " + result.StandardError);
        var rows = JsonSerializer.Deserialize<List<Dictionary<string, float[]>>>(result.StandardOutput)!;
        return rows.Select(r => r[column]).ToArray();
    }
}
