using System.Runtime.CompilerServices;

namespace Microsoft.ML.FVlm.Data;

/// <summary>
/// The file each dataset and results list came from (<see cref="CocoJson"/> records it), so that problems found
/// after reading, by the evaluator or the data view, can name the file. Objects built in code have no file:
/// callers give the name to use instead.
/// </summary>
internal static class CocoSources
{
    private static readonly ConditionalWeakTable<object, string> Names = new();

    public static T Remember<T>(T read, string sourceName) where T : class
    {
        Names.AddOrUpdate(read, sourceName);
        return read;
    }

    public static string NameOf(object value, string fallback) => Names.TryGetValue(value, out string? name) ? name : fallback;
}
