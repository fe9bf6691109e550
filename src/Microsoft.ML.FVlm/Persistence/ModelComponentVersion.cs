using System.Globalization;

namespace Microsoft.ML.FVlm.Persistence;

/// <summary>
/// Version stamps for components saved into the ML.NET model zip, and the load-time check that
/// turns a mismatch into an error a user can act on.
/// </summary>
/// <remarks>
/// ML.NET writes a <see cref="VersionInfo"/> into the header of each component's <c>Model.key</c>
/// stream: a model signature (8 ASCII characters), the version written, the oldest reader version that
/// can read it, and the loader signature used to find the <c>LoadableClass</c> that recreates it. The
/// loader assembly name recorded there is this assembly, so that <c>mlContext.Model.Load</c> in a
/// fresh process loads it with <c>Assembly.Load</c> and registers its <c>LoadableClass</c> attributes
/// with the <c>ComponentCatalog</c> before looking up the loader signature (ML.NET's
/// <c>ModelLoadContext.EnsureLoaderAssemblyIsRegistered</c>); nothing needs to be registered by hand.
/// Versions follow ML.NET's convention 0xMMMMmmmm; every bump gets a comment next to the component's
/// <c>GetVersionInfo</c>.
/// </remarks>
internal static class ModelComponentVersion
{
    /// <summary>
    /// A <see cref="VersionInfo"/> whose loader assembly is Microsoft.ML.FVlm, or <paramref name="loaderAssembly"/>.
    /// </summary>
    /// <param name="modelSignature">Eight ASCII characters naming the stream format, e.g. "FVLMXFRM".</param>
    /// <param name="written">The version this code writes.</param>
    /// <param name="oldestReaderThatCanRead">The oldest code version that can read what this code writes.</param>
    /// <param name="oldestReadable">The oldest written version this code can still read.</param>
    /// <param name="loaderSignature">The name under which the component's loader is registered with <c>LoadableClass</c>.</param>
    /// <param name="loaderAssembly">The assembly that registers the loader, when it is not this library (the tests' transformers).</param>
    public static VersionInfo Create(string modelSignature, uint written, uint oldestReaderThatCanRead, uint oldestReadable, string loaderSignature,
        System.Reflection.Assembly? loaderAssembly = null)
    {
        if (modelSignature is null || modelSignature.Length != 8 || modelSignature.Any(c => c > 127))
            throw new ArgumentException("A model signature is exactly 8 ASCII characters.", nameof(modelSignature));
        if (oldestReaderThatCanRead > written || oldestReadable > written)
            throw new ArgumentException("The oldest reader and oldest readable versions cannot be newer than the written version.");
        return new VersionInfo(modelSignature, written, oldestReaderThatCanRead, oldestReadable,
            (loaderAssembly ?? typeof(ModelComponentVersion).Assembly).FullName, loaderSignature);
    }

    /// <summary>
    /// Checks that <paramref name="ctx"/> is at the start of a component that this code can read,
    /// and throws <see cref="InvalidDataException"/> naming <paramref name="componentName"/> otherwise:
    /// a model written by a newer Microsoft.ML.FVlm that this version cannot read, one older than
    /// this version still reads, or a stream of another kind. Call it first in the loader's
    /// <c>Create(IHostEnvironment, ModelLoadContext)</c>, in place of ML.NET's <c>ctx.CheckAtModel(ver)</c>
    /// (whose errors do not name the product).
    /// </summary>
    public static void CheckAtModel(ModelLoadContext ctx, VersionInfo expected, string componentName)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ctx.CheckAtModel();
        ModelHeader header = ctx.Header;
        if (header.ModelSignature != expected.ModelSignature)
        {
            throw new InvalidDataException(
                $"The model zip entry '{ctx.Directory}' is not a {componentName}: its format signature is " +
                $"'{SignatureText(header.ModelSignature)}', expected '{SignatureText(expected.ModelSignature)}'. The zip is corrupt or was not written by Microsoft.ML.FVlm.");
        }

        if (header.ModelVerReadable > header.ModelVerWritten)
            throw new InvalidDataException($"The model zip entry '{ctx.Directory}' ({componentName}) has a corrupt version header.");

        if (header.ModelVerReadable > expected.VerWrittenCur)
        {
            throw new InvalidDataException(
                $"The {componentName} in this model was written by a newer version of Microsoft.ML.FVlm " +
                $"(format version {Format(header.ModelVerWritten)}, readable from {Format(header.ModelVerReadable)}); " +
                $"this version ({AssemblyVersion}) reads up to format version {Format(expected.VerWrittenCur)}. Update Microsoft.ML.FVlm to load it.");
        }

        if (header.ModelVerWritten < expected.VerWeCanReadBack)
        {
            throw new InvalidDataException(
                $"The {componentName} in this model was written by an older version of Microsoft.ML.FVlm " +
                $"(format version {Format(header.ModelVerWritten)}) that this version ({AssemblyVersion}) no longer reads " +
                $"(oldest readable format version {Format(expected.VerWeCanReadBack)}). Refit the model or load it with an older Microsoft.ML.FVlm.");
        }

        ctx.CheckAtModel(expected);
    }

    /// <summary>Formats 0x00010002 as "0x00010002".</summary>
    public static string Format(uint version) => "0x" + version.ToString("X8", CultureInfo.InvariantCulture);

    private static string AssemblyVersion => typeof(ModelComponentVersion).Assembly.GetName().Version?.ToString() ?? "unknown";

    private static string SignatureText(ulong signature)
    {
        Span<char> chars = stackalloc char[8];
        for (int i = 0; i < 8; i++)
        {
            char c = (char)((signature >> (8 * i)) & 0xFF);
            chars[i] = c is >= ' ' and <= '~' ? c : '?';
        }

        return new string(chars);
    }
}
