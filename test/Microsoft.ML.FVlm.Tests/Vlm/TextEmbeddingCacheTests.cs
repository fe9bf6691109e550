using Microsoft.ML.FVlm.Vlm;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Tests.Vlm;

/// <summary>Class-name embeddings on the tiny VLM, whose text tower reads 8 tokens.</summary>
[NonParallelizable]
public class TextEmbeddingCacheTests
{
    [Test]
    public void ClassNameWhosePromptIsCutIsWarnedAboutOnce()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var scope = NewDisposeScope();
        using var warnings = new RecordedWarnings();
        Assert.That(vlm.Manifest.TextEncoder.ContextLength, Is.EqualTo(8));

        // "ring" is one token of the tiny VLM's merges: "a ring ring ring ring." is start, 6 tokens, end.
        vlm.TextEmbeddings.Get(["ring", "ring ring ring ring"], ["a {}."]);
        Assert.That(warnings.Messages, Is.Empty, "prompts that fill the context at most");

        vlm.TextEmbeddings.Get(["ring ring ring ring ring"], ["a {}."]);
        Assert.That(warnings.Messages, Has.Count.EqualTo(1));
        Assert.That(warnings.Messages[0], Does.Contain("'ring ring ring ring ring' (5 tokens)")
            .And.Contain("'a ring ring ring ring ring.', has 9 tokens").And.Contain("context of 8 tokens").And.Contain("1 of 1 prompts"));

        // The model's templates: "a photo of a ring." is 13 tokens ("photo" is five, "of" two), "a ring." 5.
        vlm.TextEmbeddings.Get(["ring"]);
        Assert.That(warnings.Messages, Has.Count.EqualTo(2));
        Assert.That(warnings.Messages[1], Does.Contain("'ring' (1 token)").And.Contain("'a photo of a ring.', has 13 tokens").And.Contain("1 of 2 prompts"));

        vlm.TextEmbeddings.Get(["ring", "ring ring ring ring ring"], ["a {}."]);
        vlm.TextEmbeddings.Get(["ring"]);
        Assert.That(warnings.Messages, Has.Count.EqualTo(2), "once per name: the embedding is computed once");
    }
}
