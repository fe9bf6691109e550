using Microsoft.ML.FVlm.Persistence;

namespace Microsoft.ML.FVlm.Tests.Persistence;

/// <summary>The error raised when the ML.NET an application loads lacks an internal the model zip code uses.</summary>
public class MlNetCompatibilityTests
{
    [Test]
    public void AMissingInternalNamesTheMlNetFoundAndTheRangeSupported()
    {
        var missing = new MissingMethodException("Method not found: 'Void Microsoft.ML.ModelSaveContext.CheckAtModel()'.");

        var error = Assert.Throws<InvalidOperationException>(() => MlNetCompatibility.Run("save the model", () => throw missing))!;

        Assert.That(error.Message, Does.Contain("could not save the model"));
        Assert.That(error.Message, Does.Contain($"Microsoft.ML {MlNetCompatibility.LoadedVersion}, the version loaded"));
        Assert.That(error.Message, Does.Contain("supports Microsoft.ML [5.0.1, 7.0.0)"));
        Assert.That(error.Message, Does.Contain("CheckAtModel"), "the runtime's own words stay in the message");
        Assert.That(error.InnerException, Is.SameAs(missing));
        Assert.That(error.Message, Does.EndWith("please report it with this message."), "the version loaded is in the range: a defect here, not a version to change");
    }

    [TestCase(typeof(TypeLoadException), "Could not load type 'Microsoft.ML.Runtime.IChannel' from assembly 'Microsoft.ML.Core, Version=1.0.0.0'.")]
    [TestCase(typeof(MissingFieldException), "Field not found: 'Microsoft.ML.SchemaShape.Column.Name'.")]
    [TestCase(typeof(MethodAccessException), "Attempt by method 'Microsoft.ML.FVlm.Persistence.FVlmModelFormat.Save(Microsoft.ML.ModelSaveContext)' to access method 'Microsoft.ML.Runtime.Contracts.CheckValue' failed.")]
    public void EveryKindOfMissingOrHiddenMlNetMemberIsReported(Type kind, string message)
    {
        var thrown = (Exception)Activator.CreateInstance(kind, message)!;
        var error = Assert.Throws<InvalidOperationException>(() => MlNetCompatibility.Run("load the model", () => throw thrown))!;
        Assert.That(error.InnerException, Is.SameAs(thrown));
    }

    [Test]
    public void OtherErrorsPassThroughUnchanged()
    {
        var corrupt = new InvalidDataException("Model zip entry 'Options.json' is empty.");
        Assert.That(Assert.Throws<InvalidDataException>(() => MlNetCompatibility.Run("load the model", () => throw corrupt)), Is.SameAs(corrupt));
        Assert.That(MlNetCompatibility.Run("load the model", () => 42), Is.EqualTo(42));
    }

    [Test]
    public void MissingMembersOfOtherLibrariesAndNativeLibrariesAreNotCalledMlNets()
    {
        Exception[] others =
        [
            new MissingMethodException("Method not found: 'TorchSharp.Modules.Linear TorchSharp.torch+nn.Linear(Int64, Int64)'."),
            new MissingMethodException("Method not found: 'Microsoft.ML.Tokenizers.BpeTokenizer Microsoft.ML.Tokenizers.BpeTokenizer.Create(Microsoft.ML.Tokenizers.BpeOptions)'."),
            new MissingMethodException("Method not found: 'Void Microsoft.ML.OnnxRuntime.SessionOptions.AppendExecutionProvider_CUDA(Int32)'."),
            new DllNotFoundException("Unable to load shared library 'Microsoft.ML.Core' or one of its dependencies."),
            new EntryPointNotFoundException("Unable to find an entry point named 'THSNN_Linear_ctor' in shared library 'LibTorchSharp'."),
        ];
        foreach (var other in others)
            Assert.That(Assert.Throws(other.GetType(), () => MlNetCompatibility.Run("load the model", () => throw other)), Is.SameAs(other), other.Message);
    }

    [TestCase("5.0.1", true)]
    [TestCase("6.0.0", true)]
    [TestCase("6.9.1-preview.1", true)]
    [TestCase("5.0.0", false)]
    [TestCase("4.0.2", false)]
    [TestCase("7.0.0", false)]
    [TestCase("7.0.0-preview.1", false)]
    public void TheSupportedRangeIncludesItsLowerBoundAndExcludesItsUpper(string version, bool supported)
    {
        Assert.That(MlNetCompatibility.SupportedRange, Is.EqualTo("[5.0.1, 7.0.0)"));
        Assert.That(MlNetCompatibility.IsSupported(version), Is.EqualTo(supported));
    }

    [Test]
    public void TheVersionReportedIsTheOneThisProcessRuns()
    {
        Assert.That(MlNetCompatibility.LoadedVersion, Is.EqualTo(ModelLoadProbe.MlNetVersion()), "the probe of this test project runs the same ML.NET");
        Assert.That(MlNetCompatibility.LoadedVersion, Does.Match(@"^[56]\.\d+\.\d+"));
    }
}
