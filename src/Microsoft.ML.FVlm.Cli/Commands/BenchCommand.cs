using System.CommandLine;
using System.Diagnostics;
using Microsoft.ML.FVlm.Cli.Benchmarks;
using Microsoft.ML.FVlm.Shapes;
using Spectre.Console;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm bench</c>: the whole benchmark report in one run. Inference stages and throughput on
/// Shapes, inference at 1024 px with RN50's architecture for 48 and 1,203 classes, training with and
/// without the feature cache, and the open-vocabulary table of the shipped detector (next to an
/// oracle head when one is given); writes README.md and a PNG into the output folder.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "folder for README.md and latency.png", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("docs", "benchmarks")) };
        var model = new Option<FileInfo?>("--model") { Description = "the detector of the Shapes rows (default: the one shipped in the Shapes package)" };
        var rn50 = new Option<DirectoryInfo>("--rn50") { Description = "CLIP RN50 exported with random weights (eng/clip/make_parity_fixture.sh artifacts)", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("artifacts", "clip-rn50-random")) };
        var oracle = new Option<FileInfo?>("--oracle") { Description = "a head trained the same way on train-all (eng/benchmarks/report.sh trains it)" };
        var evalJson = new Option<FileInfo?>("--model-eval") { Description = "instead of evaluating --model here: its 'fvlm evaluate-model --json' output on Shapes val (1,000 images, seed 0)" };
        var oracleEvalJson = new Option<FileInfo?>("--oracle-eval") { Description = "instead of evaluating --oracle here: its 'fvlm evaluate-model --json' output on the same split" };
        var valImages = new Option<int>("--val-images") { Description = "Shapes val images of the open-vocabulary table", DefaultValueFactory = _ => 1000 };
        var quick = new Option<bool>("--quick") { Description = "a few images per section and 50 val images: checks the whole command; its figures are not the report's" };
        var command = new Command("bench", "Run every benchmark and write the report (Markdown tables and a PNG) to docs/benchmarks.")
        {
            output, model, rn50, oracle, evalJson, oracleEvalJson, valImages, quick,
        };
        command.SetAction(parse =>
        {
            bool isQuick = parse.GetValue(quick);
            var shippedModel = parse.GetValue(model) ?? new FileInfo(ShapesDetector.ModelFile);
            var rn50Folder = parse.GetValue(rn50)!;
            bool hasRn50 = File.Exists(Path.Combine(rn50Folder.FullName, "manifest.json"));
            var oracleModel = parse.GetValue(oracle);
            if (oracleModel is { Exists: false }) throw new FileNotFoundException($"--oracle: '{oracleModel.FullName}' does not exist; train it with eng/benchmarks/report.sh or leave the option out.");
            var shippedEval = parse.GetValue(evalJson);
            var oracleEval = parse.GetValue(oracleEvalJson);
            if (oracleEval is not null && oracleModel is null) throw new ArgumentException("--oracle-eval: give --oracle too (the report names the model).");
            int valCount = isQuick ? 50 : parse.GetValue(valImages);
            if (valCount < 1) throw new ArgumentException("--val-images: give a positive number of images.");
            var outFolder = parse.GetValue(output)!;
            Directory.CreateDirectory(outFolder.FullName);

            var clock = Stopwatch.StartNew();
            (int Images, int[] Batches) shapesPlan = isQuick ? (4, [1]) : (16, [1, 4, 16]);
            int rn50Images = isQuick ? 1 : 4;
            (int Images, int Epochs, int Size, int Batch) shapesTraining = isQuick ? (8, 2, 320, 4) : (16, 4, 320, 4);
            (int Images, int Epochs, int Size, int Batch) rn50Training = isQuick ? (2, 2, 1024, 1) : (8, 3, 1024, 2);

            InferencePaths shapes = null!;
            InferencePaths? rn50Small = null, rn50Large = null;
            InferencePath[] paths = [InferencePath.TorchSharp, InferencePath.Graph];
            TrainingResult shapesTrain = null!;
            TrainingResult? rn50Train = null;
            OpenVocabularyResult shipped = null!;
            OpenVocabularyResult? oracleResult = null;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    ProgressTask Task(string name, double max) => context.AddTask(name, autoStart: false, maxValue: Math.Max(1, max));
                    var shapesTask = Task("inference, Shapes", paths.Length * shapesPlan.Images * shapesPlan.Batches.Length);
                    var rn50Task = hasRn50 ? Task("inference, RN50 1024 px", 2 * paths.Length * rn50Images) : null;
                    var trainTask = Task("training, Shapes", TrainingBenchmark.TotalSteps(shapesTraining.Images, shapesTraining.Epochs, shapesTraining.Batch));
                    var rn50TrainTask = hasRn50 ? Task("training, RN50 1024 px", TrainingBenchmark.TotalSteps(rn50Training.Images, rn50Training.Epochs, rn50Training.Batch)) : null;
                    var shippedTask = shippedEval is null ? Task($"val, {shippedModel.Name}", valCount) : null;
                    var oracleTask = oracleModel is null || oracleEval is not null ? null : Task($"val, {oracleModel.Name}", valCount);

                    shapesTask.StartTask();
                    using (var detector = BenchDetector.FromModel(shippedModel, null))
                        shapes = InferencePaths.From(InferenceBenchmark.Run(detector, shapesPlan.Images, shapesPlan.Batches, paths, Report(shapesTask)));
                    if (rn50Task is not null)
                    {
                        rn50Task.StartTask();
                        using var detector = BenchDetector.FromVlm(rn50Folder, 1024);
                        rn50Small = InferencePaths.From(InferenceBenchmark.Run(detector, rn50Images, [1], paths, Report(rn50Task)));
                        detector.Use(BenchDetector.SyntheticVocabulary(1203));
                        rn50Large = InferencePaths.From(InferenceBenchmark.Run(detector, rn50Images, [1], paths, Report(rn50Task, offset: paths.Length * rn50Images)));
                    }
                    trainTask.StartTask();
                    var shapesVlm = new DirectoryInfo(ShapesVlm.Folder);
                    shapesTrain = TrainingBenchmark.Run(shapesVlm, shapesTraining.Images, shapesTraining.Epochs, shapesTraining.Size, shapesTraining.Batch, Report(trainTask));
                    if (rn50TrainTask is not null)
                    {
                        rn50TrainTask.StartTask();
                        rn50Train = TrainingBenchmark.Run(rn50Folder, rn50Training.Images, rn50Training.Epochs, rn50Training.Size, rn50Training.Batch, Report(rn50TrainTask));
                    }
                    using var val = shippedTask is null && oracleTask is null ? null : new OpenVocabularyBenchmark(valCount);
                    if (shippedTask is not null)
                    {
                        shippedTask.StartTask();
                        shipped = val!.Evaluate(shippedModel, Report(shippedTask));
                    }
                    else
                    {
                        shipped = OpenVocabularyResult.Read(shippedModel.Name, shippedEval!);
                    }
                    if (oracleTask is not null)
                    {
                        oracleTask.StartTask();
                        oracleResult = val!.Evaluate(oracleModel!, Report(oracleTask));
                    }
                    else if (oracleEval is not null)
                    {
                        oracleResult = OpenVocabularyResult.Read(oracleModel!.Name, oracleEval);
                    }
                });

            string commandLine = "fvlm " + string.Join(' ', parse.Tokens.Select(t => t.Value));
            var figures = new BenchmarkFigures(commandLine, shapes, rn50Small, rn50Large, shapesTrain, rn50Train, valCount, shipped, oracleResult, clock.Elapsed);
            var chartRows = new List<(string, InferenceResult)>();
            foreach (var (name, measured) in new[] { ("Shapes VLM", shapes), ("RN50", rn50Small), ("RN50", rn50Large) })
                if (measured is not null)
                    chartRows.AddRange([($"{name}, {measured.ImageSize} px, {measured.Classes} classes, TorchSharp", measured.TorchSharp),
                        ($"{name}, {measured.ImageSize} px, {measured.Classes} classes, graph", measured.Graph)]);
            LatencyChart.Write(Path.Combine(outFolder.FullName, BenchmarkReport.ChartFile), "Inference time per image by stage (share of the total; batch size 1, 2 CPU cores)", chartRows);
            string readme = Path.Combine(outFolder.FullName, "README.md");
            File.WriteAllText(readme, BenchmarkReport.Markdown(figures));
            AnsiConsole.WriteLine($"wrote {readme} and {BenchmarkReport.ChartFile} in {clock.Elapsed.TotalMinutes:F1} min");
            return CliErrors.Success;
        });
        return command;
    }

    private static SynchronousProgress Report(ProgressTask task, int offset = 0) => new(done => task.Value = offset + done);
}
