using Microsoft.ML.Runtime;

namespace Microsoft.ML.FVlm.Persistence;

/// <summary>
/// The ML.NET host environment behind a catalog, and a log on it. ML.NET keeps both internal
/// (<c>IInternalCatalog.Environment</c>, <c>IChannel</c>); this is the one place that uses them.
/// </summary>
internal static class MLNetEnvironment
{
    /// <summary>The environment (the <c>MLContext</c>) a transforms catalog belongs to.</summary>
    public static IHostEnvironment Of(TransformsCatalog catalog) => MlNetCompatibility.Run("find the MLContext of a catalog", () => EnvironmentOf(catalog));

    private static IHostEnvironment EnvironmentOf(TransformsCatalog catalog) => ((Microsoft.ML.Data.IInternalCatalog)catalog).Environment;

    /// <summary>A log named <paramref name="name"/> in <paramref name="env"/> (ML.NET's <c>Log</c> event).</summary>
    public static ComponentLog Log(IHostEnvironment env, string name) => MlNetCompatibility.Run("open a log channel", () => Open(env, name));

    private static ComponentLog Open(IHostEnvironment env, string name) => new(env.Register(name).Start(name));

    /// <summary>Writes informational messages to ML.NET's log; disposing ends the channel.</summary>
    internal sealed class ComponentLog(IChannel channel) : IDisposable
    {
        public void Info(string message) => MlNetCompatibility.Run("write to ML.NET's log", () => channel.Info(message));

        public void Dispose() => channel.Dispose();
    }
}
