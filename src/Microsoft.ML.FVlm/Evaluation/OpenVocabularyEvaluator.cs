using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Inference;

namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>Figures of one (IoU type, score source) pair: AP over novel, base and all categories, and LVIS's APr / APc / APf.</summary>
public sealed record OpenVocabularyFigures(double Novel, double Base, double All, double Rare, double Common, double Frequent);

/// <summary>
/// The open-vocabulary table of F-VLM: a fitted detector run once over a ground-truth set with the
/// ground truth's categories as vocabulary (novel = not a base class of the model), scored three
/// ways (detection-only, VLM-only, fused; fused once per fusion method asked for) and evaluated with
/// the LVIS protocol (300 detections per image, federated rules) for boxes and masks.
/// </summary>
public static class OpenVocabularyEvaluator
{
    /// <summary>Score sources in the order of the table.</summary>
    public static readonly IReadOnlyList<DetectionScoreSource> Sources = [DetectionScoreSource.Detection, DetectionScoreSource.Vlm, DetectionScoreSource.Fused];

    /// <param name="model">The fitted detector.</param>
    /// <param name="groundTruth">LVIS-style ground truth (categories with <c>frequency</c>).</param>
    /// <param name="imageFolder">Folder the images' <c>file_name</c> are relative to.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <param name="progress">Images done.</param>
    /// <param name="fusedDetections">Called with each image and its fused detections (the first fusion method's; for drawing them without a second pass).</param>
    /// <param name="regionScaling">The scales the VLM embeds regions at, instead of the model's own (<see cref="FVlmOptions.VlmRegionScales"/>).</param>
    /// <param name="sourceResults">Called once per row ("detection", "vlm", "fused" or "fused-&lt;method&gt;") with all its COCO results, before they are evaluated.</param>
    /// <param name="fusionMethods">
    /// Fusion methods to score, each as its own row "fused-&lt;method name&gt;" (<see cref="FusionMethod.Name"/>), from one forward pass;
    /// null: the model's own, as the row "fused". The VLM-only row scores the boxes of the model's own method.
    /// </param>
    /// <returns>Figures by IoU type ("bbox", "segm") and row ("detection", "vlm", then the fused rows).</returns>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>> Evaluate(
        FVlmTransformer model, CocoDataset groundTruth, string imageFolder, int batchSize = 4, IProgress<int>? progress = null,
        Action<CocoImage, ImageDetections>? fusedDetections = null, Vlm.RegionScaling? regionScaling = null,
        Action<string, IReadOnlyList<CocoAnnotation>>? sourceResults = null, IReadOnlyList<FusionMethod>? fusionMethods = null)
    {
        CocoDatasetValidator.RequireFileNames(groundTruth);
        if (fusionMethods is { Count: 0 }) throw new ArgumentException("Give at least one fusion method, or null for the model's own.", nameof(fusionMethods));
        if (fusionMethods is not null && fusionMethods.Select(m => m.Name).Distinct().Count() != fusionMethods.Count)
            throw new ArgumentException($"The fusion methods repeat one: {string.Join(", ", fusionMethods.Select(m => m.Name))}.", nameof(fusionMethods));
        var categories = groundTruth.Categories.OrderBy(c => c.Id).ToArray();
        using var vocabularyModel = model.WithVocabulary(categories.Select(c => c.Name).ToArray());
        var vocabulary = vocabularyModel.Vocabulary;
        var novelIds = categories.Where((c, i) => vocabulary.IsNovel[i]).Select(c => c.Id).ToArray();
        var common = model.InferenceSettings with { MaxDetections = 300, ScoreThreshold = 1e-4, RegionScaling = regionScaling ?? model.RegionScaling };
        var rows = new List<(string Name, InferenceSettings Settings)>
        {
            ("detection", common with { ScoreSource = DetectionScoreSource.Detection }),
            ("vlm", common with { ScoreSource = DetectionScoreSource.Vlm }),
        };
        if (fusionMethods is null) rows.Add(("fused", common with { ScoreSource = DetectionScoreSource.Fused }));
        else rows.AddRange(fusionMethods.Select(m => ("fused-" + m.Name, common with { ScoreSource = DetectionScoreSource.Fused, Fusion = m })));
        var settings = rows.Select(r => r.Settings).ToArray();

        var results = rows.Select(_ => new List<CocoAnnotation>()).ToArray();
        const int fused = 2;
        int done = 0;
        foreach (var chunk in groundTruth.Images.Chunk(batchSize))
        {
            var images = chunk.Select(i => MLImage.CreateFromFile(Path.Combine(imageFolder, i.FileName))).ToArray();
            try
            {
                IReadOnlyList<IReadOnlyList<ImageDetections>> detections;
                using (model.Model.Use())
                    detections = model.Model.Graph.Detect(images, vocabulary, settings);
                for (int s = 0; s < settings.Length; s++)
                    for (int i = 0; i < chunk.Length; i++)
                        results[s].AddRange(ToResults(chunk[i].Id, detections[s][i], categories));
                for (int i = 0; i < chunk.Length; i++) fusedDetections?.Invoke(chunk[i], detections[fused][i]);
            }
            finally
            {
                foreach (var image in images) image.Dispose();
            }
            progress?.Report(done += chunk.Length);
        }

        for (int s = 0; s < rows.Count; s++)
            sourceResults?.Invoke(rows[s].Name, results[s]);
        var mlContext = new MLContext();
        var table = new Dictionary<string, IReadOnlyDictionary<string, OpenVocabularyFigures>>();
        foreach (var (iouName, iouType) in new[] { ("bbox", DetectionIouType.BoundingBox), ("segm", DetectionIouType.Segmentation) })
        {
            var row = new Dictionary<string, OpenVocabularyFigures>();
            for (int s = 0; s < rows.Count; s++)
            {
                var metrics = mlContext.EvaluateDetections(results[s], groundTruth, new DetectionEvaluationOptions
                {
                    IouType = iouType, Protocol = DetectionEvaluationProtocol.Lvis, NovelCategoryIds = novelIds,
                });
                row[rows[s].Name] = new OpenVocabularyFigures(
                    metrics.AveragePrecisionNovel ?? -1, metrics.AveragePrecisionBase ?? -1, metrics.AveragePrecision,
                    metrics.AveragePrecisionRare ?? -1, metrics.AveragePrecisionCommon ?? -1, metrics.AveragePrecisionFrequent ?? -1);
            }
            table[iouName] = row;
        }
        return table;
    }

    /// <summary>COCO results (boxes as [x, y, w, h], masks as compressed RLE) of one image's detections.</summary>
    public static IEnumerable<CocoAnnotation> ToResults(long imageId, ImageDetections detections, IReadOnlyList<CocoCategory> vocabularyCategories)
    {
        for (int d = 0; d < detections.Count; d++)
        {
            float x0 = detections.Boxes[d * 4], y0 = detections.Boxes[d * 4 + 1], x1 = detections.Boxes[d * 4 + 2], y1 = detections.Boxes[d * 4 + 3];
            yield return new CocoAnnotation
            {
                ImageId = imageId,
                CategoryId = vocabularyCategories[detections.Classes[d]].Id,
                Bbox = [x0, y0, x1 - x0, y1 - y0],
                Score = detections.Scores[d],
                Segmentation = detections.Masks is { } masks ? CocoSegmentation.FromRle(masks[d]) : null,
            };
        }
    }
}
