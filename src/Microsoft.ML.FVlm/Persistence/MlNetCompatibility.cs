using System.Reflection;
using System.Text.RegularExpressions;

namespace Microsoft.ML.FVlm.Persistence;

/// <summary>
/// Runs code that uses ML.NET's internals (saving and loading the model zip, the catalog's environment, its log)
/// and turns the runtime's errors for internals that a different ML.NET no longer has into one that names the
/// ML.NET found and the versions this library supports.
/// </summary>
/// <remarks>
/// The library compiles against the lowest ML.NET of its range and runs on whichever the application restores.
/// A member or type that a later ML.NET removed or changed fails when the method that uses it is compiled,
/// which happens inside the delegate that <see cref="Run{T}(string, Func{T})"/> calls, never in this class: it uses nothing internal.
/// </remarks>
internal static class MlNetCompatibility
{
    /// <summary>The versions of Microsoft.ML the package accepts, as NuGet writes them (from Directory.Packages.props).</summary>
    public static string SupportedRange { get; } =
        typeof(MlNetCompatibility).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "SupportedMlNetVersions")?.Value ?? "(unknown)";

    /// <summary>The version of Microsoft.ML loaded in this process (its informational version, without the commit).</summary>
    public static string LoadedVersion { get; } = VersionOf(typeof(MLContext).Assembly);

    /// <summary>Runs <paramref name="action"/>; a missing ML.NET internal becomes an <see cref="InvalidOperationException"/> saying so.</summary>
    public static T Run<T>(string what, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsMissingMlNetMember(e))
        {
            throw Incompatible(what, e);
        }
    }

    /// <inheritdoc cref="Run{T}(string, Func{T})"/>
    public static void Run(string what, Action action) => Run(what, () => { action(); return true; });

    /// <summary>
    /// Whether <paramref name="e"/> is the runtime saying that a member or type of ML.NET is missing or hidden: not a
    /// native library or entry point (those derive from <see cref="TypeLoadException"/> too), not TorchSharp, ONNX
    /// Runtime or Microsoft.ML.Tokenizers, whose members the same code paths call.
    /// </summary>
    internal static bool IsMissingMlNetMember(Exception e) =>
        e is MissingMemberException or MemberAccessException or TypeLoadException
        && e is not (DllNotFoundException or EntryPointNotFoundException)
        && s_mlNetName.IsMatch(e is TypeLoadException load ? load.TypeName + " " + e.Message : e.Message);

    private static readonly Regex s_mlNetName = new(@"\bMicrosoft\.ML(?!\.(?:FVlm|OnnxRuntime|Tokenizers)\b)\b", RegexOptions.CultureInvariant);

    internal static InvalidOperationException Incompatible(string what, Exception e) => new(
        $"Microsoft.ML.FVlm could not {what}: it uses ML.NET internals that Microsoft.ML {LoadedVersion}, the version loaded, " +
        $"does not have as this library expects ({e.GetType().Name}: {e.Message}). This library supports Microsoft.ML {SupportedRange}; " +
        (IsSupported(LoadedVersion)
            ? "the version loaded is in that range, so this is a defect of Microsoft.ML.FVlm: please report it with this message."
            : "reference a version in that range."), e);

    /// <summary>Whether <paramref name="version"/> (e.g. <c>6.0.0</c> or <c>6.1.0-preview.1</c>) lies in <see cref="SupportedRange"/> (<c>[low, high)</c>).</summary>
    internal static bool IsSupported(string version)
    {
        string[] bounds = SupportedRange.Trim('[', ')').Split(',', StringSplitOptions.TrimEntries);
        return bounds.Length == 2 && Version.TryParse(version.Split('-')[0], out var v)
            && Version.TryParse(bounds[0], out var low) && Version.TryParse(bounds[1], out var high)
            && v >= low && v < high;
    }

    private static string VersionOf(Assembly assembly)
    {
        string? informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational)) return assembly.GetName().Version?.ToString() ?? "(unknown)";
        int plus = informational.IndexOf('+');
        return plus < 0 ? informational : informational[..plus];
    }
}
