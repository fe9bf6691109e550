using Microsoft.ML.FVlm.Shapes.Rendering;
using SkiaSharp;

namespace Microsoft.ML.FVlm.Shapes;

/// <summary>
/// Renders a split of the Shapes world. Image <c>i</c> depends only on (seed, stream, i) and, for the
/// training splits, on the image count (which fixes the rare / common quotas), so output bytes do not depend
/// on <see cref="ShapesOptions.MaxDegreeOfParallelism"/>.
/// </summary>
/// <remarks>
/// Layout under the output folder: <c>&lt;split&gt;.json</c> and <c>&lt;images&gt;/000000.png</c>, ... where the image
/// folder is <c>train</c> for both training splits (they render the same images), <c>val</c> or <c>captions</c>.
/// Each <c>file_name</c> in the JSON is relative to the JSON file's folder (e.g. <c>train/000017.png</c>).
/// PNGs are 8-bit RGB.
/// </remarks>
public sealed class ShapesGenerator
{
    private readonly ShapesOptions _options;
    private readonly ScenePlanner _planner;

    /// <summary>Creates a generator; the options are copied.</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public ShapesGenerator(ShapesOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
        _planner = new ScenePlanner(_options);
    }

    /// <summary>The JSON file name of a split: <c>train-base.json</c>, <c>train-all.json</c>, <c>val.json</c>, <c>captions.json</c>.</summary>
    public static string AnnotationFileName(ShapesSplit split) => split.ToName() + ".json";

    /// <summary>The image folder of a split: <c>train</c>, <c>val</c> or <c>captions</c>.</summary>
    public static string ImageFolderName(ShapesSplit split) => split.IsTraining() ? "train" : split.ToName();

    /// <summary>Renders image <paramref name="index"/> in memory, exactly as <see cref="Generate"/> writes it.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in [0, ImageCount).</exception>
    public ShapesScene RenderScene(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _options.ImageCount);
        using var renderer = new SceneRenderer(_options.MinVisibleFraction, _options.MinVisiblePixels);
        var scene = Render(renderer, index);
        var surface = scene.Surface;
        int size = surface.Size;
        var rgba = surface.Pixels;
        var rgb = new byte[size * size * 3];
        for (int i = 0; i < rgba.Length; i++)
        {
            rgb[3 * i] = (byte)rgba[i];
            rgb[3 * i + 1] = (byte)(rgba[i] >> 8);
            rgb[3 * i + 2] = (byte)(rgba[i] >> 16);
        }
        var instances = scene.Instances.Select(i => new ShapesInstance(i.Category, i.Appearance.Color, i.Appearance.Style,
            i.PaintedArea, i.Visible.Area, SceneAnnotator.IsAnnotated(i, _options.Split), i.Visible.Mask, i.Visible.Box,
            CaptionText.Object(i.Appearance.Color, i.Category))).ToList();
        string caption = CaptionText.Scene(instances.Where(i => i.IsAnnotated).Select(i => (i.Color, i.Category)));
        return new ShapesScene(index, size, scene.IsCrop, rgb, (byte[])surface.Ids.Clone(), instances, caption);
    }

    /// <summary>Renders the split in parallel and writes the PNG files and the JSON file.</summary>
    /// <param name="outputDirectory">Created if missing; existing files of the same names are overwritten.</param>
    /// <param name="progress">Receives the number of images finished so far (from worker threads).</param>
    /// <param name="cancellationToken">Stops rendering; the JSON file is then not written.</param>
    public ShapesGenerationResult Generate(string outputDirectory, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        string imageFolderName = ImageFolderName(_options.Split);
        string imageFolder = Path.GetFullPath(Path.Combine(outputDirectory, imageFolderName));
        Directory.CreateDirectory(imageFolder);

        var records = new ImageRecord[_options.ImageCount];
        int done = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism, CancellationToken = cancellationToken };
        // Sub filter and zlib level 1: about twice as fast as libpng's defaults on noisy backgrounds, files about 10% larger.
        var png = new SKPngEncoderOptions(SKPngEncoderFilterFlags.Sub, zLibLevel: 1);
        Parallel.For(0, _options.ImageCount, parallel,
            () => new SceneRenderer(_options.MinVisibleFraction, _options.MinVisiblePixels),
            (index, _, renderer) =>
            {
                var scene = Render(renderer, index);
                string name = $"{index:D6}.png";
                using (var pixmap = scene.Surface.Image.PeekPixels())
                using (var data = pixmap.Encode(png) ?? throw new InvalidOperationException($"SkiaSharp could not encode scene {index} as PNG."))
                using (var file = File.Create(Path.Combine(imageFolder, name)))
                    data.SaveTo(file);
                records[index] = ImageRecord.From(index, imageFolderName + "/" + name, scene, _options.Split);
                progress?.Report(Interlocked.Increment(ref done));
                return renderer;
            },
            renderer => renderer.Dispose());

        string annotationFile = Path.GetFullPath(Path.Combine(outputDirectory, AnnotationFileName(_options.Split)));
        using (var stream = File.Create(annotationFile))
            ShapesJsonWriter.Write(stream, _options, records);
        return new ShapesGenerationResult(annotationFile, imageFolder, records.Length, records.Sum(r => r.Annotations.Count));
    }

    /// <summary>
    /// Renders image <paramref name="index"/>. A training image that carries quota categories is drawn again
    /// (from the next attempt's generator, at most <see cref="MaxAttempts"/> times) until each of them has a
    /// visible-enough instance, so a rare category's one or two images really show it.
    /// </summary>
    private RenderedScene Render(SceneRenderer renderer, int index)
    {
        var planted = _planner.Planted(index);
        for (int attempt = 0; ; attempt++)
        {
            var random = ShapesRandom.For(_options.Seed, _planner.Stream + (ulong)attempt * 0x100, index);
            var categories = _planner.Plan(index, random, out bool isCrop);
            var scene = renderer.Render(isCrop ? _options.CropSize : _options.ImageSize, categories, isCrop, random);
            if (attempt == MaxAttempts - 1 || planted.All(c => scene.Instances.Any(i => i.Category == c && i.IsVisibleEnough)))
                return scene;
        }
    }

    private const int MaxAttempts = 8;
}
