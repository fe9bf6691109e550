// Lets this assembly call internal members of Microsoft.ML.Core and Microsoft.ML.Data at run time.
//
// The library compiles against copies of those assemblies with every member made public
// (eng/MlNetInternals.targets), but loads the real ones. The CoreCLR honours this attribute, which the
// BCL does not ship publicly, when it is declared in the calling assembly itself: the JIT then skips
// the visibility checks for accesses into the named assemblies.
//
// Verified with Microsoft.ML 5.0.1 on .NET 10: without the two assembly-level attributes below, the
// first call into an internal member fails at run time, e.g. ModelSaveLoadTests throws
// "System.MethodAccessException: Attempt by method 'Microsoft.ML.FVlm.TestTransformers.ScaleTransformer.Save(
// Microsoft.ML.ModelSaveContext)' to access method 'Microsoft.ML.Runtime.Contracts.CheckValue<...>' failed."
// With them, save and load round-trip (test/Microsoft.ML.FVlm.Tests/Persistence/).
//
// Only code in the Persistence/ folder may rely on this; keep every use of ML.NET internals there. The
// test-only transformers (test/Microsoft.ML.FVlm.TestTransformers) compile this file too.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices;

/// <summary>
/// Tells the runtime to skip access checks from this assembly into the named assembly.
/// Declared here because the runtime recognises it by name and the BCL does not expose it.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute : Attribute
{
    /// <summary>Creates the attribute for the assembly with the given simple name.</summary>
    public IgnoresAccessChecksToAttribute(string assemblyName) => AssemblyName = assemblyName;

    /// <summary>The simple name of the assembly whose internals this assembly may access.</summary>
    public string AssemblyName { get; }
}
