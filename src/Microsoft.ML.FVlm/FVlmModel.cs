using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm;

/// <summary>
/// What a fitted F-VLM consists of, shared by the transformers of every vocabulary made from it:
/// the frozen VLM, the trained head, the head's architecture and the base class names. Reference
/// counted: the last transformer disposed frees the native resources.
/// </summary>
internal sealed class FVlmModel
{
    private int _shares;

    public FVlmModel(FrozenVlm vlm, DetectorHead head, DetectorArchitecture architecture, IReadOnlyList<string> baseClassNames, int imageSize, string device)
    {
        Vlm = vlm;
        Head = head;
        Architecture = architecture;
        BaseClassNames = baseClassNames.ToArray();
        Detector = new OpenVocabularyDetector(vlm, head, imageSize, device);
    }

    public FrozenVlm Vlm { get; }
    public DetectorHead Head { get; }
    public DetectorArchitecture Architecture { get; }
    public IReadOnlyList<string> BaseClassNames { get; }
    public OpenVocabularyDetector Detector { get; }

    public FVlmModel Share()
    {
        Interlocked.Increment(ref _shares);
        return this;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _shares) != 0) return;
        Head.Dispose();
        Vlm.Dispose();
    }
}
