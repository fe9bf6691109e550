using Microsoft.ML.FVlm.Cli.Commands;
using Microsoft.ML.FVlm.Inference;

namespace Microsoft.ML.FVlm.Tests.Inference;

public class FusionMethodTests
{
    [Test]
    public void NamesReadBackAsTheSameMethod()
    {
        var methods = FusionMethod.All.Append(FusionMethod.Reference with { ObjectnessWeight = 0.5 }).Append(FusionMethod.Unnormalised with { ObjectnessWeight = 2 }).ToArray();
        Assert.That(methods.Select(m => m.Name), Is.Unique);
        foreach (var method in methods)
            Assert.That(FusionMethod.Parse(method.Name), Is.EqualTo(method), method.Name);
        Assert.That(FusionMethod.Reference.Name, Is.EqualTo("renormalised-proposals"));
        Assert.That(FusionMethod.Unnormalised.Name, Is.EqualTo("unnormalised-refined"));
        Assert.That(FusionMethod.Parse(" Renormalised-Refined-objectness0.25"), Is.EqualTo(new FusionMethod { VlmBoxes = VlmScoredBoxes.RefinedBoxes, ObjectnessWeight = 0.25 }));
    }

    [TestCase("renormalised")]
    [TestCase("normalised-proposals")]
    [TestCase("renormalised-boxes")]
    [TestCase("renormalised-proposals-objectness")]
    [TestCase("renormalised-proposals-objectness-1")]
    [TestCase("renormalised-proposals-objectnessNaN")]
    [TestCase("renormalised-proposals-0.5")]
    public void AnythingElseIsRefusedSayingWhatIsExpected(string name)
    {
        var error = Assert.Throws<FormatException>(() => FusionMethod.Parse(name));
        Assert.That(error!.Message, Does.Contain($"'{name}' is not a fusion method").And.Contain("renormalised or unnormalised"));
    }

    [Test]
    public void TheEvalCommandsFusionOptionTakesAllOrAList()
    {
        Assert.That(EvalCommand.ParseFusion(null), Is.Null, "the model's own");
        Assert.That(EvalCommand.ParseFusion("all"), Is.EqualTo(FusionMethod.All));
        Assert.That(EvalCommand.ParseFusion("unnormalised-refined, renormalised-proposals"), Is.EqualTo(new[] { FusionMethod.Unnormalised, FusionMethod.Reference }));
        Assert.That(Assert.Throws<ArgumentException>(() => EvalCommand.ParseFusion("renormalised-proposals,renormalised-proposals"))!.Message, Does.Contain("--fusion"));
        Assert.That(Assert.Throws<ArgumentException>(() => EvalCommand.ParseFusion(" , "))!.Message, Does.Contain("--fusion: no method given"));
        Assert.That(Assert.Throws<ArgumentException>(() => EvalCommand.ParseFusion("reference"))!.Message, Does.StartWith("--fusion: 'reference' is not a fusion method"));
    }
}
