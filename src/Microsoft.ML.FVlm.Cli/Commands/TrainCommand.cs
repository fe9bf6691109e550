using System.CommandLine;
using System.Text.RegularExpressions;
using Microsoft.ML.FVlm.Cli;
using Microsoft.ML.FVlm.Data;
using Microsoft.ML.FVlm.Training;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm train</c>: fit the detector head on a COCO / LVIS training set and save the ML.NET model zip.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var vlm = new Option<DirectoryInfo>("--vlm") { Description = "frozen VLM folder (docs/vlm-contract.md)", Required = true };
        var data = new Option<FileSystemInfo>("--data") { Description = "COCO / LVIS JSON file, or a folder written by 'fvlm shapes' (uses train-base.json)", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "the model zip to write (its folder is created)", Required = true };
        var defaults = new FVlmOptions();
        var steps = new Option<int?>("--steps") { Description = $"training steps (default {defaults.Steps}; 40 with --quick)" };
        var quick = new Option<bool>("--quick") { Description = "a short run to check the set-up" };
        var batch = new Option<int>("--batch-size") { Description = "images per step", DefaultValueFactory = _ => defaults.BatchSize };
        var size = new Option<int>("--image-size") { Description = "longest image side on the encoder's canvas (multiple of 32)", DefaultValueFactory = _ => defaults.ImageSize };
        var rate = new Option<double>("--learning-rate") { Description = "peak SGD learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var seed = new Option<int>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
        var noCache = new Option<bool>("--no-cache") { Description = "recompute the frozen features every step instead of caching them" };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "write a checkpoint every N steps next to --out (0: never)", DefaultValueFactory = _ => 0 };
        var resume = new Option<FileInfo?>("--resume") { Description = "resume from this checkpoint" };
        var headChannels = new Option<int>("--head-channels") { Description = "channels of the feature pyramid and of the box and mask heads' convs", DefaultValueFactory = _ => defaults.HeadConvChannels };
        var roiSamples = new Option<int>("--roi-samples") { Description = "proposals sampled per training image for the box and mask heads", DefaultValueFactory = _ => defaults.RoiSamplesPerImage };
        var roiPositives = new Option<double>("--roi-positive-fraction") { Description = "largest fraction of the sampled proposals that may be positive", DefaultValueFactory = _ => defaults.RoiPositiveFraction };
        var jitter = new Option<string>("--jitter") { Description = "large-scale jitter range MIN,MAX of the training augmentation", DefaultValueFactory = _ => FormattableString.Invariant($"{defaults.MinJitterScale},{defaults.MaxJitterScale}") };
        var maskWeight = new Option<double>("--mask-weight") { Description = "weight of the mask loss (the other losses weigh 1)", DefaultValueFactory = _ => defaults.MaskLossWeight };
        var maskPixels = new Option<int>("--mask-pixel-channels") { Description = "channels of the mask head's pixel branch (0: none)", DefaultValueFactory = _ => defaults.MaskPixelChannels };
        var canonicalSize = new Option<double>("--roi-canonical-size") { Description = "box side (canvas pixels) the box and mask heads pool from P4", DefaultValueFactory = _ => defaults.RoiCanonicalBoxSize };
        var command = new Command("train", "Train the F-VLM detector head on base-category annotations and save the fitted model as an ML.NET zip.")
        {
            vlm, data, output, steps, quick, batch, size, rate, seed, noCache, checkpointEvery, resume, headChannels, roiSamples, roiPositives, jitter, maskWeight, maskPixels, canonicalSize,
        };
        var scaling = new RegionScalingArguments("saved with the model for its VLM scores; default: 1, F-VLM's single scale");
        scaling.AddTo(command);
        command.SetAction(parse =>
        {
            // Outputs first: a run that finds out when it saves has lost every step (minutes to hours).
            string zip = parse.GetValue(output)!.FullName;
            string checkpoints = Path.ChangeExtension(zip, ".checkpoints");
            WritablePath.EnsureOutputFile(zip, "--out", "the model zip");
            if (parse.GetValue(checkpointEvery) > 0)
                WritablePath.EnsureOutputFolder(checkpoints, "--checkpoint-every", "checkpoints");
            if (parse.GetValue(resume) is { Exists: false } missing)
                throw new FileNotFoundException($"--resume: '{missing.FullName}' does not exist.", missing.FullName);
            var regionScaling = scaling.Parse(parse) ?? Vlm.RegionScaling.Single;
            var (json, images) = DatasetArgument.Resolve(parse.GetValue(data)!, "train-base");
            var dataset = DatasetArgument.Read(json);
            // Base classes: the categories the training file annotates; the others are detected as novel.
            var annotated = dataset.Annotations.Select(a => a.CategoryId).ToHashSet();
            var baseIds = dataset.Categories.Where(c => annotated.Contains(c.Id)).Select(c => c.Id).ToArray();
            if (baseIds.Length == 0) throw new InvalidDataException($"--data: '{json}' has no annotations to train on.");
            var jitterRange = parse.GetValue(jitter)!.Split(',');
            if (jitterRange.Length != 2 || !double.TryParse(jitterRange[0], System.Globalization.CultureInfo.InvariantCulture, out double minJitter)
                || !double.TryParse(jitterRange[1], System.Globalization.CultureInfo.InvariantCulture, out double maxJitter))
                throw new ArgumentException($"--jitter: expected MIN,MAX (for example 0.5,1.5); got '{parse.GetValue(jitter)}'.");
            var options = new FVlmOptions
            {
                VlmFolder = parse.GetValue(vlm)!.FullName,
                Steps = parse.GetValue(steps) ?? (parse.GetValue(quick) ? 40 : defaults.Steps),
                BatchSize = parse.GetValue(batch),
                ImageSize = parse.GetValue(size),
                LearningRate = parse.GetValue(rate),
                Seed = parse.GetValue(seed),
                PyramidChannels = parse.GetValue(headChannels),
                HeadConvChannels = parse.GetValue(headChannels),
                RoiSamplesPerImage = parse.GetValue(roiSamples),
                RoiPositiveFraction = parse.GetValue(roiPositives),
                RoiCanonicalBoxSize = parse.GetValue(canonicalSize),
                MaskLossWeight = parse.GetValue(maskWeight),
                MaskPixelChannels = parse.GetValue(maskPixels),
                MinJitterScale = minJitter,
                MaxJitterScale = maxJitter,
                CacheFeatures = !parse.GetValue(noCache),
                CheckpointEvery = parse.GetValue(checkpointEvery),
                CheckpointFolder = checkpoints,
                ResumeFrom = parse.GetValue(resume)?.FullName,
                VlmRegionScales = regionScaling.Scales.ToArray(),
                VlmRegionObjectSize = regionScaling.ObjectSize,
                VlmRegionScaleSpread = regionScaling.Spread,
                NovelClassNames = dataset.Categories.Where(c => !annotated.Contains(c.Id)).Select(c => c.Name).ToArray(),
            };
            options.WarmupSteps = Math.Min(options.WarmupSteps, options.Steps / 5);

            var mlContext = new MLContext(seed: options.Seed);
            var trainData = mlContext.Data.LoadFromCocoDataset(dataset, images, new CocoLoaderOptions { CategoryIds = baseIds });
            var estimator = mlContext.Transforms.DetectObjectsOpenVocabulary(options);
            FVlmTransformer model = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("training", maxValue: options.Steps);
                    estimator.Progress = new TrainingProgressReporter(p =>
                    {
                        task.Value = p.Step;
                        task.Description = $"step {p.Step}/{p.Steps}  loss {p.Losses["total"]:F3}  {p.ImagesPerSecond:F1} img/s  cache {p.CacheHitRate:P0}";
                        if (p.Step % 50 == 0 || p.Step == p.Steps)
                            AnsiConsole.MarkupLineInterpolated($"step {p.Step}: {string.Join("  ", p.Losses.Select(l => $"{l.Key} {l.Value:F3}"))}  grad norm {p.GradientNorm:F2}  {p.ImagesPerSecond:F1} img/s");
                    });
                    model = FitOrNameTheCheckpoint(estimator, trainData, options.ResumeFrom);
                });
            using (model)
                mlContext.Model.Save(model, trainData.Schema, zip);
            AnsiConsole.MarkupLineInterpolated($"saved {zip} ({new FileInfo(zip).Length / (1024.0 * 1024):F1} MB): {baseIds.Length} base classes, {options.NovelClassNames.Length} novel");
            return CliErrors.Success;
        });
        return command;
    }

    /// <summary>FVlmOptions fields that <c>fvlm train</c> sets from an option of its own.</summary>
    private static readonly (string Field, string Option)[] OptionOfField =
    [
        ("PyramidChannels", "--head-channels"), ("HeadConvChannels", "--head-channels"), ("MaskPixelChannels", "--mask-pixel-channels"),
    ];

    /// <summary>Fits; an error about the <c>--resume</c> checkpoint names the option, and this tool's options for the library's.</summary>
    private static FVlmTransformer FitOrNameTheCheckpoint(FVlmEstimator estimator, IDataView data, string? checkpoint)
    {
        try
        {
            return estimator.Fit(data);
        }
        catch (InvalidDataException e) when (checkpoint is not null && e.Message.Contains($"'{checkpoint}'", StringComparison.Ordinal))
        {
            string message = OptionOfField.Aggregate(e.Message, (m, f) => Regex.Replace(m, $@"\b{f.Field}\b", $"{f.Field} ({f.Option})"));
            throw new InvalidDataException($"--resume: {char.ToLowerInvariant(message[0])}{message[1..]}", e);
        }
    }

    private sealed class TrainingProgressReporter(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
