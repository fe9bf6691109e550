using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Cli.Commands;

/// <summary>
/// A deterministic COCO-sized evaluation case: ground-truth objects (ellipses in random boxes, with masks) on
/// 640 x 480 images, and per image a fixed number of detections: a few jittered copies of each object (some with
/// the wrong category) and random false positives. Masks are built as RLE runs directly, column by column.
/// </summary>
internal sealed class SyntheticDetectionCase
{
    public const int ImageWidth = 640, ImageHeight = 480;

    private SyntheticDetectionCase(CocoDataset groundTruth, List<CocoAnnotation> detections)
    {
        GroundTruth = groundTruth;
        Detections = detections;
    }

    public CocoDataset GroundTruth { get; }

    public List<CocoAnnotation> Detections { get; }

    public static SyntheticDetectionCase Create(int images, int categories, int detectionsPerImage, int seed)
    {
        var random = new Random(seed);
        var dataset = new CocoDataset();
        for (int c = 1; c <= categories; c++)
            dataset.Categories.Add(new CocoCategory { Id = c, Name = $"category {c}" });
        var detections = new List<CocoAnnotation>(images * detectionsPerImage);
        long annotationId = 1;
        for (int i = 1; i <= images; i++)
        {
            dataset.Images.Add(new CocoImage { Id = i, FileName = $"{i:D6}.png", Width = ImageWidth, Height = ImageHeight });
            int objects = 1 + random.Next(13); // about 7 per image, as COCO val
            int made = 0;
            for (int o = 0; o < objects; o++)
            {
                double[] box = RandomBox(random);
                long category = 1 + random.Next(categories);
                var mask = Ellipse(box);
                dataset.Annotations.Add(new CocoAnnotation
                {
                    Id = annotationId++, ImageId = i, CategoryId = category, Bbox = box, Area = CocoMask.Area(mask),
                    IsCrowd = random.NextDouble() < 0.01 ? 1 : 0, Segmentation = CocoSegmentation.FromRle(mask),
                });
                for (int k = 0; k < 3 && made < detectionsPerImage; k++, made++)
                {
                    double[] jittered = Jitter(box, random);
                    long label = random.NextDouble() < 0.8 ? category : 1 + random.Next(categories);
                    detections.Add(Detection(i, label, jittered, 0.3 + 0.7 * random.NextDouble()));
                }
            }
            for (; made < detectionsPerImage; made++)
                detections.Add(Detection(i, 1 + random.Next(categories), RandomBox(random), 0.6 * random.NextDouble()));
        }
        return new SyntheticDetectionCase(dataset, detections);
    }

    private static CocoAnnotation Detection(long image, long category, double[] box, double score) => new()
    {
        ImageId = image, CategoryId = category, Bbox = box, Score = Math.Round(score, 3),
        Segmentation = CocoSegmentation.FromRle(Ellipse(box)),
    };

    /// <summary>Sides log-uniform in [8, 250] pixels: a mix of small, medium and large objects.</summary>
    private static double[] RandomBox(Random random)
    {
        double w = Math.Round(Math.Exp(Math.Log(8) + random.NextDouble() * Math.Log(250.0 / 8)), 1);
        double h = Math.Round(Math.Exp(Math.Log(8) + random.NextDouble() * Math.Log(250.0 / 8)), 1);
        double x = Math.Round(random.NextDouble() * (ImageWidth - w), 1);
        double y = Math.Round(random.NextDouble() * (ImageHeight - h), 1);
        return [x, y, w, h];
    }

    private static double[] Jitter(double[] box, Random random)
    {
        double s = 0.15;
        double w = box[2] * (1 + s * (random.NextDouble() - 0.5)), h = box[3] * (1 + s * (random.NextDouble() - 0.5));
        double x = box[0] + box[2] * s * (random.NextDouble() - 0.5), y = box[1] + box[3] * s * (random.NextDouble() - 0.5);
        x = Math.Clamp(x, 0, ImageWidth - w);
        y = Math.Clamp(y, 0, ImageHeight - h);
        return [Math.Round(x, 2), Math.Round(y, 2), Math.Round(w, 2), Math.Round(h, 2)];
    }

    /// <summary>The ellipse inscribed in a box [x, y, w, h] (pixel centres inside), as column-major runs.</summary>
    private static RleMask Ellipse(double[] box)
    {
        double cx = box[0] + box[2] / 2, cy = box[1] + box[3] / 2, rx = box[2] / 2, ry = box[3] / 2;
        var counts = new List<uint>();
        long position = 0, runStart = 0; // flattened column-major index; start of the pending zero run
        int first = Math.Max(0, (int)Math.Floor(box[0])), last = Math.Min(ImageWidth - 1, (int)Math.Ceiling(box[0] + box[2]));
        for (int column = first; column <= last; column++)
        {
            double dx = (column + 0.5 - cx) / rx;
            if (Math.Abs(dx) >= 1)
                continue;
            double half = ry * Math.Sqrt(1 - dx * dx);
            int top = Math.Max(0, (int)Math.Ceiling(cy - half - 0.5)), bottom = Math.Min(ImageHeight - 1, (int)Math.Floor(cy + half - 0.5));
            if (top > bottom)
                continue;
            position = (long)column * ImageHeight + top;
            long end = (long)column * ImageHeight + bottom + 1;
            if (counts.Count > 0 && position == runStart)
            {
                counts[^1] += (uint)(end - position); // touches the previous run: extend it
            }
            else
            {
                counts.Add((uint)(position - runStart));
                counts.Add((uint)(end - position));
            }
            runStart = end;
        }
        long total = (long)ImageWidth * ImageHeight;
        if (counts.Count == 0)
            counts.Add((uint)total);
        else
            counts.Add((uint)(total - runStart));
        return new RleMask(ImageHeight, ImageWidth, [.. counts]);
    }
}
