using System.CommandLine;
using Microsoft.ML.FVlm.Shapes;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm shapes</c>: render a split of the Shapes world as COCO / LVIS JSON and PNG files.</summary>
internal static class ShapesCommand
{
    public static Command Create()
    {
        var split = new Option<string>("--split") { Description = "train-base, train-all, val or captions", Required = true };
        var images = new Option<int>("--images") { Description = "number of images", DefaultValueFactory = _ => 100 };
        var seed = new Option<int>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
        var size = new Option<int>("--size") { Description = "image side in pixels", DefaultValueFactory = _ => 320 };
        var output = new Option<DirectoryInfo>("--out") { Description = "output folder", Required = true };
        var command = new Command("shapes", "Render a split of the Shapes open-vocabulary world (COCO / LVIS JSON and PNG files).")
        {
            split, images, seed, size, output,
        };
        command.SetAction(parse =>
        {
            var options = ShapesCliOptions.Create(
                parse.GetValue(split)!, parse.GetValue(images), parse.GetValue(seed), parse.GetValue(size), threads: -1);
            var generator = new ShapesGenerator(options);
            string folder = parse.GetValue(output)!.FullName;
            ShapesGenerationResult result = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask($"shapes {options.Split.ToName()}", maxValue: options.ImageCount);
                    // Reports arrive from worker threads, possibly out of order: keep the largest.
                    var progress = new SynchronousProgress(done => { lock (task) task.Value = Math.Max(task.Value, done); });
                    result = generator.Generate(folder, progress);
                });
            AnsiConsole.MarkupLineInterpolated(
                $"wrote {result.ImageCount} images to {result.ImageFolder} and {result.AnnotationCount} annotations to {result.AnnotationFile}");
            return CliErrors.Success;
        });
        return command;
    }
}
