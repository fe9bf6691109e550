using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Tests;

/// <summary>The tiny VLM folder, head architecture, transformer and images that tests across folders build on.</summary>
internal static class TinyModels
{
    /// <summary>A VLM folder with tiny random graphs (test/Microsoft.ML.FVlm.Tests/Assets/tiny-vlm).</summary>
    public static string VlmFolder => Path.Combine(RepositoryRoot.Path, "test", "Microsoft.ML.FVlm.Tests", "Assets", "tiny-vlm");

    /// <summary>A head small enough to train for a few steps in a test.</summary>
    public static readonly DetectorArchitecture Architecture = DetectorArchitecture.Default with
    {
        PyramidChannels = 16,
        HeadConvChannels = 16,
        BoxHeadFcDim = 32,
        MaskPixelChannels = 0,
        AnchorSizes = [16, 32, 64, 128, 256],
        Rpn = DetectorArchitecture.Default.Rpn with { TrainingPreNmsTopK = 200, TrainingPostNmsTopK = 100, InferencePreNmsTopK = 200, InferencePostNmsTopK = 50 },
        RoiHeads = DetectorArchitecture.Default.RoiHeads with { SamplesPerImage = 64 },
    };

    /// <summary>An opaque image of seeded random pixels.</summary>
    public static MLImage RandomImage(int height, int width, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[height * width * 4];
        random.NextBytes(pixels);
        for (int i = 3; i < pixels.Length; i += 4) pixels[i] = 255;
        return MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, pixels);
    }

    /// <summary>A transformer over the tiny VLM and a seeded random head: every candidate above score 0 is a detection.</summary>
    public static FVlmTransformer Transformer()
    {
        var vlm = FrozenVlm.Load(VlmFolder);
        TorchSharp.torch.manual_seed(5);
        var head = DetectorFactory.Create(vlm.Manifest, Architecture);
        var options = new FVlmOptions { VlmFolder = VlmFolder, ImageSize = 64, ScoreThreshold = 0.0, MaxDetections = 10 };
        var model = new FVlmModel(vlm, head, Architecture, ["ring", "circle"], options.ImageSize, "cpu");
        return new FVlmTransformer(model, FVlmOptionsValidator.Scoring(options), new Vocabulary(["ring", "circle", "square"], [false, false, true]));
    }
}
