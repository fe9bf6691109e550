using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Tests.Inference;

/// <summary>The vocabulary's checks: two names CLIP's tokenizer cannot tell apart are one class.</summary>
public class VocabularyTests
{
    private static readonly Lazy<ClipTokenizer> Clip = new(() => ClipTokenizer.FromMergesFile(SharedClip.MergesPath));

    [TestCase("circle", "Circle")]
    [TestCase("circle", "circle ")]
    [TestCase("lightning bolt", " Lightning \t bolt")]
    [TestCase("rock & roll", "rock &amp; roll")]
    [TestCase("t-shirt", "T - Shirt")]
    [TestCase("cafe", "ＣＡＦＥ")]
    [TestCase("c3", "C 3")]
    public void NamesThatTokenizeIdenticallyAreRejectedNamingBoth(string first, string second)
    {
        Assert.That(Clip.Value.Encode(second), Is.EqualTo(Clip.Value.Encode(first)), "the premise: CLIP gives both the same token ids");
        var error = Assert.Throws<ArgumentException>(() => Vocabulary.AllNovel([first, "square", second]).Validate());
        Assert.That(error!.ParamName, Is.EqualTo("Names"));
        Assert.That(error.Message, Does.Contain($"0 ('{first}')").And.Contain($"2 ('{second}')"));
    }

    [TestCase("circle", "circles")]
    [TestCase("t-shirt", "tshirt")]
    [TestCase("red arrow", "redarrow")]
    public void NamesThatTokenizeDifferentlyAreDistinct(string first, string second)
    {
        Assert.That(Clip.Value.Encode(second), Is.Not.EqualTo(Clip.Value.Encode(first)), "the premise: CLIP tells them apart");
        Assert.DoesNotThrow(() => Vocabulary.AllNovel([first, second]).Validate());
    }

    [Test]
    public void NameThatCleansToNothingIsEmpty()
    {
        var error = Assert.Throws<ArgumentException>(() => Vocabulary.AllNovel(["circle", "&nbsp;"]).Validate());
        Assert.That(error!.ParamName, Is.EqualTo("Names"));
        Assert.That(error.Message, Does.Contain("1 ('&nbsp;')").And.Contain("empty"));
    }
}
