using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>Top-1 accuracy of a frozen VLM's zero-shot classification, over all categories and over novel (rare) ones.</summary>
/// <param name="CropTop1All">Object crops classified as images (the encoder at its pretraining size, then the pooler).</param>
/// <param name="CropTop1Novel">The same over crops of rare categories.</param>
/// <param name="RegionTop1All">Ground-truth boxes of scenes classified by region embeddings (F-VLM's VLM-score path).</param>
/// <param name="RegionTop1Novel">The same over boxes of rare categories.</param>
/// <param name="Crops">Crops evaluated.</param>
/// <param name="NovelCrops">Crops of rare categories.</param>
/// <param name="Regions">Boxes evaluated.</param>
/// <param name="NovelRegions">Boxes of rare categories.</param>
internal sealed record VlmClassificationMetrics(double CropTop1All, double CropTop1Novel, double RegionTop1All, double RegionTop1Novel,
    int Crops, int NovelCrops, int Regions, int NovelRegions);

/// <summary>
/// Measures a frozen VLM on a COCO / LVIS file whose images are either single-object crops (image
/// field <c>kind</c> = "crop", as the Shapes captions split writes) or scenes. Classes are the file's
/// categories, each embedded with the VLM's prompt templates; novel = <c>frequency</c> "r".
/// </summary>
internal static class VlmClassificationEvaluator
{
    private const int BatchSize = 32;

    /// <param name="vlm">The model to measure.</param>
    /// <param name="annotationFile">COCO / LVIS JSON; images with <c>kind</c> "crop" are crops, the rest scenes.</param>
    /// <param name="imageFolder">Folder that the images' <c>file_name</c> are relative to.</param>
    /// <param name="progress">Images done so far.</param>
    /// <param name="regionScaling">The scales at which boxes are embedded (default: F-VLM's single scale).</param>
    public static VlmClassificationMetrics Evaluate(FrozenVlm vlm, string annotationFile, string imageFolder, IProgress<int>? progress = null,
        RegionScaling? regionScaling = null)
    {
        regionScaling ??= RegionScaling.Single;
        var dataset = CocoJson.ReadDataset(annotationFile);
        CocoDatasetValidator.RequireFileNames(dataset);
        var crops = ReadCropIds(annotationFile);
        var categories = dataset.Categories.OrderBy(c => c.Id).ToArray();
        var classOf = categories.Select((c, i) => (c.Id, i)).ToDictionary(p => p.Id, p => p.i);
        var novel = categories.Select(c => c.Frequency == "r").ToArray();
        using var scope = NewDisposeScope();
        var text = vlm.TextEmbeddings.Get(categories.Select(c => c.Name).ToArray());
        var byImage = dataset.Annotations.Where(a => a.IsCrowd == 0).GroupBy(a => a.ImageId).ToDictionary(g => g.Key, g => g.ToArray());

        var crop = new Tally();
        var region = new Tally();
        int done = 0;
        var cropImages = dataset.Images.Where(i => crops.Contains(i.Id) && byImage.ContainsKey(i.Id)).ToArray();
        foreach (var chunk in cropImages.Chunk(BatchSize))
        {
            using var guard = NativeCallGuard.Enter();
            using var chunkScope = NewDisposeScope();
            var images = chunk.Select(i => MLImage.CreateFromFile(Path.Combine(imageFolder, i.FileName))).ToArray();
            try
            {
                var batch = vlm.Preprocessor.Prepare(images, vlm.Manifest.ImageEncoder.PretrainingImageSize);
                var regionLevel = RegionLevel(vlm, vlm.EncodeImages(batch.PixelValues));
                var predicted = Classify(vlm.PoolRegions(regionLevel), text);
                for (int i = 0; i < chunk.Length; i++)
                {
                    int truth = classOf[byImage[chunk[i].Id][0].CategoryId];
                    crop.Add(predicted[i] == truth, novel[truth]);
                }
            }
            finally
            {
                foreach (var image in images) image.Dispose();
            }
            progress?.Report(done += chunk.Length);
        }

        foreach (var scene in dataset.Images.Where(i => !crops.Contains(i.Id) && byImage.ContainsKey(i.Id)))
        {
            using var guard = NativeCallGuard.Enter();
            using var sceneScope = NewDisposeScope();
            using var image = MLImage.CreateFromFile(Path.Combine(imageFolder, scene.FileName));
            var batch = vlm.Preprocessor.Prepare([image], Math.Max(image.Width, image.Height));
            var regionLevels = vlm.RegionLevelsAtScales(batch.PixelValues, RegionLevel(vlm, vlm.EncodeImages(batch.PixelValues)), regionScaling);
            var annotations = byImage[scene.Id];
            var boxes = new float[annotations.Length * 4];
            for (int a = 0; a < annotations.Length; a++)
            {
                var b = annotations[a].Bbox;
                float s = batch.Scales[0];
                (boxes[a * 4], boxes[a * 4 + 1], boxes[a * 4 + 2], boxes[a * 4 + 3]) = ((float)b[0] * s, (float)b[1] * s, (float)(b[0] + b[2]) * s, (float)(b[1] + b[3]) * s);
            }
            var predicted = Classify(vlm.EmbedRegions(regionLevels, tensor(boxes, [annotations.Length, 4]), regionScaling), text);
            for (int a = 0; a < annotations.Length; a++)
            {
                int truth = classOf[annotations[a].CategoryId];
                region.Add(predicted[a] == truth, novel[truth]);
            }
            progress?.Report(++done);
        }
        return new VlmClassificationMetrics(crop.All, crop.Novel, region.All, region.Novel, crop.Count, crop.NovelCount, region.Count, region.NovelCount);
    }

    private static Tensor RegionLevel(FrozenVlm vlm, Tensor[] features) =>
        features[Array.FindIndex(vlm.Manifest.ImageEncoder.FeatureLevels, l => l.Name == vlm.Manifest.RegionPooler.RegionLevel)];

    private static long[] Classify(Tensor embeddings, Tensor text) =>
        nn.functional.normalize(embeddings, dim: -1).matmul(text.t()).argmax(1).data<long>().ToArray();

    /// <summary>Ids of images whose <c>kind</c> is "crop" (a field the COCO model does not keep).</summary>
    private static HashSet<long> ReadCropIds(string annotationFile)
    {
        using var stream = File.OpenRead(annotationFile);
        using var json = JsonDocument.Parse(stream);
        var ids = new HashSet<long>();
        foreach (var image in json.RootElement.GetProperty("images").EnumerateArray())
            if (image.TryGetProperty("kind", out var kind) && kind.GetString() == "crop")
                ids.Add(image.GetProperty("id").GetInt64());
        return ids;
    }

    private sealed class Tally
    {
        private int _correct, _novelCorrect;
        public int Count { get; private set; }
        public int NovelCount { get; private set; }
        public double All => Count == 0 ? double.NaN : (double)_correct / Count;
        public double Novel => NovelCount == 0 ? double.NaN : (double)_novelCorrect / NovelCount;

        public void Add(bool correct, bool novel)
        {
            Count++;
            if (correct) _correct++;
            if (!novel) return;
            NovelCount++;
            if (correct) _novelCorrect++;
        }
    }
}
