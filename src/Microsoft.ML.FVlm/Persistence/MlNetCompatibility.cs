using System.Reflection;

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
        catch (Exception e) when (e is MissingMemberException or MemberAccessException or TypeLoadException)
        {
            throw Incompatible(what, e);
        }
    }

    /// <inheritdoc cref="Run{T}(string, Func{T})"/>
    public static void Run(string what, Action action) => Run(what, () => { action(); return true; });

    internal static InvalidOperationException Incompatible(string what, Exception e) => new(
        $"Microsoft.ML.FVlm could not {what}: it uses ML.NET internals that Microsoft.ML {LoadedVersion}, the version loaded, " +
        $"does not have as this library expects ({e.GetType().Name}: {e.Message}). This library supports Microsoft.ML {SupportedRange}; " +
        "reference a version in that range.", e);

    private static string VersionOf(Assembly assembly)
    {
        string? informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational)) return assembly.GetName().Version?.ToString() ?? "(unknown)";
        int plus = informational.IndexOf('+');
        return plus < 0 ? informational : informational[..plus];
    }
}
