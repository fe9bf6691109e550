namespace Microsoft.ML.FVlm;

/// <summary>
/// Options of <c>FVlmEstimator</c> (<c>mlContext.Transforms.DetectObjectsOpenVocabulary</c>): columns, the frozen VLM, the head's training, and
/// inference. Defaults follow F-VLM (Kuo et al., ICLR 2023) scaled down for CPU training.
/// </summary>
public sealed class FVlmOptions
{
    // ---------------------------------------------------------------- columns

    /// <summary>Input: images (<c>MLImage</c>, e.g. from <c>LoadImages</c>).</summary>
    public string ImageColumnName = "Image";

    /// <summary>Input: variable-length vector of keys, one per instance; the key values (text) are the base class names.</summary>
    public string LabelColumnName = "Label";

    /// <summary>Input: variable-length float vector, 4 per instance: x0 y0 x1 y1 in pixels.</summary>
    public string BoundingBoxColumnName = "BoundingBoxes";

    /// <summary>Input (optional): variable-length text vector, one COCO compressed RLE per instance, at image size. Without it the mask head is not trained.</summary>
    public string? MaskColumnName = "Masks";

    /// <summary>Output: variable-length key vector; key values are the vocabulary.</summary>
    public string PredictedLabelColumnName = "PredictedLabel";

    /// <summary>Output: variable-length float vector, the fused score of each detection.</summary>
    public string ScoreColumnName = "Score";

    /// <summary>Output: variable-length float vector, 4 per detection: x0 y0 x1 y1 in pixels, clipped to the image.</summary>
    public string PredictedBoundingBoxColumnName = "PredictedBoundingBoxes";

    /// <summary>Output: variable-length text vector, one COCO compressed RLE per detection at image size (<see cref="Data.CocoMask"/> decodes it).</summary>
    public string PredictedMaskColumnName = "PredictedMasks";

    /// <summary>Also output the detector's own probability of each detection's class (column <c>DetectionScore</c>).</summary>
    public bool AddDetectionScoreColumn;

    /// <summary>Also output the frozen VLM's probability of each detection's class (column <c>VlmScore</c>).</summary>
    public bool AddVlmScoreColumn;

    // ---------------------------------------------------------------- frozen VLM

    /// <summary>Folder of the frozen VLM (docs/vlm-contract.md): an exported CLIP, or the Shapes VLM.</summary>
    public string VlmFolder = "";

    /// <summary>Run the VLM's ONNX graphs on this CUDA device; null for the CPU.</summary>
    public int? GpuDeviceId;

    /// <summary>Run on the CPU when CUDA cannot start instead of failing.</summary>
    public bool FallbackToCpu;

    /// <summary>TorchSharp device of the head: "cpu", or "cuda" / "cuda:N" where the application references a CUDA libtorch.</summary>
    public string Device = "cpu";

    // ---------------------------------------------------------------- training

    /// <summary>Longest image side on the encoder's canvas, in pixels; a multiple of the VLM's size multiple (32).</summary>
    public int ImageSize = DefaultImageSize;

    /// <summary>The default of <see cref="ImageSize"/>.</summary>
    public const int DefaultImageSize = 320;

    /// <summary>
    /// Training steps (batches). The defaults (2000 steps of 4 images, 64-channel pyramid and heads,
    /// 128 sampled RoIs per image, jitter 0.5 to 1.5) train on the Shapes world in under 30 minutes
    /// on two CPU cores; F-VLM's own schedule (LSJ 0.1 to 2.0, 256-channel heads, batch 256, tens of
    /// thousands of steps) is for accelerators.
    /// </summary>
    public int Steps = DefaultSteps;

    /// <summary>The default of <see cref="Steps"/>.</summary>
    public const int DefaultSteps = 2000;

    /// <summary>Images per step.</summary>
    public int BatchSize = 4;

    /// <summary>Peak SGD learning rate (momentum 0.9), reached after a linear warm-up and cut tenfold at 80% and 90% of the steps.</summary>
    public double LearningRate = 0.02;

    /// <summary>Weight decay of SGD.</summary>
    public double WeightDecay = 1e-4;

    /// <summary>
    /// Gradients are rescaled to at most this global L2 norm before each SGD step (0: no clipping).
    /// The region-text classifier divides cosines by 0.01, so its gradients are large early in training
    /// (measured: a global norm near 300 at the first step of a small head on Shapes, under 10
    /// within 20 steps). Clipping bounds how far those first steps move the weights.
    /// </summary>
    public double GradientClipNorm = 10.0;

    /// <summary>
    /// Weight of the mask loss in the total; the other four losses weigh 1. F-VLM weighs the mask loss 1
    /// too, but the mask head is the slowest of the heads to learn in a short CPU schedule: on the
    /// 8-scene overfitting test (OverfitTests, 300 steps) its masks for the ground-truth boxes reach a
    /// mean IoU of 0.68 with the truth at weight 1 and 0.81 at weight 4, and the default Shapes training
    /// (docs/shapes-detector.md) gains 0.007 base mask AP with detection scores at weight 4 (0.227 against
    /// 0.220) for 0.006 of box AP (0.333 against 0.339), one seed each.
    /// </summary>
    public double MaskLossWeight = 4.0;

    /// <summary>Warm-up steps.</summary>
    public int WarmupSteps = 100;

    /// <summary>Channels of the feature pyramid.</summary>
    public int PyramidChannels = 64;

    /// <summary>Channels of the box and mask heads' convs.</summary>
    public int HeadConvChannels = 64;

    /// <summary>Width of the box head's fully connected layer.</summary>
    public int BoxHeadFcDim = 512;

    /// <summary>
    /// Channels of the mask head's pixel branch; 0 for Mask R-CNN's head (F-VLM's) without one. The branch
    /// resamples the canvas pixels under each box to the mask's 28x28, passes them through one 3x3 conv and
    /// fuses them with the upsampled features by a 1x1 conv before the mask logits: the finest pyramid
    /// level has a stride of 4 pixels, coarser than the strokes of thin or outlined objects. On the
    /// default Shapes training (docs/shapes-detector.md) 16 channels raised base mask AP with detection
    /// scores from 0.227 (one seed) to 0.263 and 0.272 (two seeds).
    /// </summary>
    public int MaskPixelChannels = 16;

    /// <summary>
    /// Proposals sampled per training image for the box and mask heads (a quarter positive at most).
    /// detectron2 uses 512; the box head's four convs run on every sampled RoI, which dominates the
    /// cost of a training step on a CPU.
    /// </summary>
    public int RoiSamplesPerImage = 128;

    /// <summary>
    /// The largest fraction of <see cref="RoiSamplesPerImage"/> that may be positive (matched to a box at
    /// IoU 0.5 or more); the rest are background. 0.25 as in Fast R-CNN, detectron2 and F-VLM.
    /// </summary>
    public double RoiPositiveFraction = 0.25;

    /// <summary>
    /// The box side, in canvas pixels, that the box and mask heads pool from P4; a box twice as large is
    /// pooled from P5, half as large from P3 (<c>floor(4 + log2(side / size))</c>, clamped to P2..P5).
    /// 224 as in the FPN paper, torchvision and detectron2, which were tuned for images of 800 to 1024 px.
    /// </summary>
    public double RoiCanonicalBoxSize = Ops.MultiScaleRoiAlign.DefaultCanonicalSize;

    /// <summary>Proposals kept per image at inference (after NMS); the heads and the VLM score each one.</summary>
    public int InferenceProposalCount = 1000;

    /// <summary>Anchor sizes of P2..P6 in pixels (five values).</summary>
    public double[] AnchorSizes = [16, 32, 64, 128, 256];

    /// <summary>Large-scale jitter range of the training augmentation (F-VLM: 0.1 to 2.0, for a schedule far longer than the default).</summary>
    public double MinJitterScale = 0.5, MaxJitterScale = 1.5;

    /// <summary>Mirror training images left-right with probability one half (per augmentation variant).</summary>
    public bool HorizontalFlip = true;

    /// <summary>Fixed augmentations per image; each one's frozen features are computed once and cached.</summary>
    public int AugmentationVariants = 4;

    /// <summary>Cache the frozen features (F-VLM's training saving). Off: recompute them every step.</summary>
    public bool CacheFeatures = true;

    /// <summary>Memory for cached features, in bytes (float16).</summary>
    public long CacheMemoryBytes = 4L << 30;

    /// <summary>Folder to spill cached features that do not fit in memory; null to recompute them instead.</summary>
    public string? CacheFolder;

    /// <summary>Seed of every random choice in training.</summary>
    public int Seed;

    /// <summary>Write a checkpoint every this many steps into <see cref="CheckpointFolder"/> (0: never).</summary>
    public int CheckpointEvery;

    /// <summary>Where checkpoints go.</summary>
    public string? CheckpointFolder;

    /// <summary>Resume training from this checkpoint file.</summary>
    public string? ResumeFrom;

    // ---------------------------------------------------------------- inference

    // The inference options' defaults are those of the public InferenceSettings record, defined there once.
    private static readonly Inference.InferenceSettings InferenceDefaults = new();

    /// <summary>Extra class names to detect besides the base classes, weighed as novel (beta).</summary>
    public string[] NovelClassNames = [];

    /// <summary>Detections scoring below this are dropped.</summary>
    public double ScoreThreshold = InferenceDefaults.ScoreThreshold;

    /// <summary>Per-class NMS IoU threshold.</summary>
    public double NmsThreshold = InferenceDefaults.NmsThreshold;

    /// <summary>Detections per image (100 as COCO; 300 for LVIS-style evaluation).</summary>
    public int MaxDetections = InferenceDefaults.MaxDetections;

    /// <summary>alpha: weight of the VLM's score for base classes.</summary>
    public double BaseVlmWeight = InferenceDefaults.BaseVlmWeight;

    /// <summary>beta: weight of the VLM's score for novel classes.</summary>
    public double NovelVlmWeight = InferenceDefaults.NovelVlmWeight;

    /// <summary>
    /// Divide each box's fused probabilities (the detector's background and the fused classes) by their
    /// sum, as F-VLM's reference does (<see cref="Inference.FusionMethod"/>).
    /// </summary>
    public bool RenormaliseFusion = InferenceDefaults.Fusion.Renormalise;

    /// <summary>The boxes the frozen VLM scores: the RPN's proposals, which the detector head classified (F-VLM's reference), or the refined boxes.</summary>
    public Inference.VlmScoredBoxes VlmScoredBoxes = InferenceDefaults.Fusion.VlmBoxes;

    /// <summary>F-VLM's optional objectness weight: fused probabilities times the proposal's RPN objectness to this power (0: off, the reference's default).</summary>
    public double ObjectnessWeight = InferenceDefaults.Fusion.ObjectnessWeight;

    /// <summary>
    /// Canvas scales at which the frozen VLM embeds regions for its scores (<see cref="Vlm.RegionScaling"/>).
    /// F-VLM's single scale, <c>[1]</c>, by default; several scales run the image tower once more per
    /// scale and weigh each box's embeddings by how close its side comes to <see cref="VlmRegionObjectSize"/>.
    /// </summary>
    public double[] VlmRegionScales = [.. InferenceDefaults.RegionScaling.Scales];

    /// <summary>The box side, in canvas pixels after scaling, that the VLM embeds best (used with several <see cref="VlmRegionScales"/>).</summary>
    public double VlmRegionObjectSize = InferenceDefaults.RegionScaling.ObjectSize;

    /// <summary>Spread (standard deviation, natural-log units) of the scale weights around <see cref="VlmRegionObjectSize"/>.</summary>
    public double VlmRegionScaleSpread = InferenceDefaults.RegionScaling.Spread;

    /// <summary>Images scored together by <c>Transform</c>.</summary>
    public int InferenceBatchSize = 4;

    /// <summary>A copy of these options (arrays copied too), to change without touching the original.</summary>
    internal FVlmOptions Copy()
    {
        var copy = (FVlmOptions)MemberwiseClone();
        // A null array stays null, for the validator to name.
        copy.NovelClassNames = NovelClassNames?.ToArray()!;
        copy.AnchorSizes = AnchorSizes?.ToArray()!;
        copy.VlmRegionScales = VlmRegionScales?.ToArray()!;
        return copy;
    }

    /// <summary>The fusion method these options describe.</summary>
    public Inference.FusionMethod FusionMethod() => new() { Renormalise = RenormaliseFusion, VlmBoxes = VlmScoredBoxes, ObjectnessWeight = ObjectnessWeight };

    /// <summary>The VLM region scales these options describe.</summary>
    public Vlm.RegionScaling RegionScaling() => new(VlmRegionScales, VlmRegionObjectSize, VlmRegionScaleSpread);
}
