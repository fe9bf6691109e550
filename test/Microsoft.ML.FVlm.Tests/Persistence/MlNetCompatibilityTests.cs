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
    }

    [TestCase(typeof(TypeLoadException))]
    [TestCase(typeof(MissingFieldException))]
    [TestCase(typeof(MethodAccessException))]
    public void EveryKindOfMissingOrHiddenMemberIsReported(Type kind)
    {
        var thrown = (Exception)Activator.CreateInstance(kind, "gone")!;
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
    public void TheVersionReportedIsTheOneThisProcessRuns()
    {
        Assert.That(MlNetCompatibility.LoadedVersion, Is.EqualTo(ModelLoadProbe.MlNetVersion()), "the probe of this test project runs the same ML.NET");
        Assert.That(MlNetCompatibility.LoadedVersion, Does.Match(@"^[56]\.\d+\.\d+"));
    }
}
