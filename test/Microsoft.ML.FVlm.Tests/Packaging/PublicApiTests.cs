using System.Reflection;
using Microsoft.ML.FVlm.Shapes;
using PublicApiGenerator;

namespace Microsoft.ML.FVlm.Tests.Packaging;

/// <summary>
/// The public surface of the shipped libraries against the committed baseline in
/// test/Microsoft.ML.FVlm.Tests/Packaging/PublicApi/: a type or member added, removed or changed fails
/// here until the baseline (and docs/api.md for a new type) says so.
/// </summary>
public class PublicApiTests
{
    private static readonly string[] InternalNamespaces =
        ["Microsoft.ML.FVlm.Ops", "Microsoft.ML.FVlm.Modeling", "Microsoft.ML.FVlm.Training", "Microsoft.ML.FVlm.Persistence"];

    private static IEnumerable<Assembly> ShippedAssemblies() => [typeof(FVlmEstimator).Assembly, typeof(ShapesWorld).Assembly];

    [TestCaseSource(nameof(ShippedAssemblies))]
    public void ThePublicApiIsTheCommittedBaseline(Assembly assembly)
    {
        string name = assembly.GetName().Name!;
        string baselinePath = Path.Combine(RepositoryRoot.Path, "test", "Microsoft.ML.FVlm.Tests", "Packaging", "PublicApi", name + ".txt");
        string actual = PublicApi(assembly);
        string expected = File.Exists(baselinePath) ? File.ReadAllText(baselinePath).ReplaceLineEndings("\n") : "";
        if (actual == expected) return;

        string received = Path.Combine(TestContext.CurrentContext.WorkDirectory, name + ".received.txt");
        File.WriteAllText(received, actual);
        var actualLines = actual.Split('\n');
        var expectedLines = expected.Split('\n');
        Assert.Fail($"The public API of {name} differs from {baselinePath}.\n"
            + $"Added:\n  {string.Join("\n  ", actualLines.Except(expectedLines).Take(40))}\n"
            + $"Removed:\n  {string.Join("\n  ", expectedLines.Except(actualLines).Take(40))}\n"
            + $"If the change is meant, copy {received} over the baseline and list a new public type in docs/api.md.");
    }

    [Test]
    public void NoPublicTypeLivesInTheHeadsImplementationNamespaces()
    {
        var exposed = typeof(FVlmEstimator).Assembly.GetExportedTypes()
            .Where(t => InternalNamespaces.Contains(t.Namespace))
            .Select(t => t.FullName);

        Assert.That(exposed, Is.Empty);
    }

    [Test]
    public void TheLibraryRegistersOnlyTheFVlmTransformersLoader()
    {
        // ML.NET's LoadableClass registrations: the first Type argument is the class a zip entry loads as.
        var loaded = typeof(FVlmEstimator).Assembly.CustomAttributes
            .Where(a => a.AttributeType.Name == "LoadableClassAttribute")
            .Select(a => a.ConstructorArguments.First(argument => argument.ArgumentType == typeof(Type)).Value)
            .ToArray();

        Assert.That(loaded, Is.EqualTo(new object[] { typeof(FVlmTransformer) }), "test fixtures register their loaders in test/Microsoft.ML.FVlm.TestTransformers");
    }

    [Test]
    public void DocsApiListsEveryPublicTypeOfTheLibrary()
    {
        string api = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docs", "api.md"));
        var listed = ShippedAssemblies().SelectMany(a => a.GetExportedTypes())
            .Where(t => !t.IsNested)
            .Where(t => !api.Contains($"`{t.Name}`", StringComparison.Ordinal))
            .Select(t => t.FullName);

        Assert.That(listed, Is.Empty, "public types missing from docs/api.md (each as `Name`)");
    }

    private static string PublicApi(Assembly assembly) =>
        assembly.GeneratePublicApi(new ApiGeneratorOptions
        {
            // The generator leaves out namespaces starting with "Microsoft" unless allowed.
            AllowNamespacePrefixes = ["Microsoft.ML.FVlm"],
            ExcludeAttributes = ["System.Runtime.Versioning.TargetFrameworkAttribute"],
        })
            .ReplaceLineEndings("\n");
}
