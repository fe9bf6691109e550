using System.CommandLine;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm export</c>: the fitted detector's inference as one ONNX graph, the vocabulary an input (docs/deploy.md).</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "model zip written by 'fvlm train' or mlContext.Model.Save", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "the .onnx file to write", Required = true };
        var command = new Command("export", "Write the detector's whole inference (image in; boxes, scores, labels, masks out) as one ONNX graph whose vocabulary is an input ('fvlm embed-text' writes it).")
        {
            model, output,
        };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(output)!;
            WritablePath.EnsureOutputFolder(file.Directory!.FullName, "--out", "the graph");
            var mlContext = new MLContext();
            using var detector = ModelFile.Load(mlContext, parse.GetValue(model)!);
            detector.ExportOnnx(file.FullName);
            Console.WriteLine($"wrote {file.FullName} ({new FileInfo(file.FullName).Length / (1024.0 * 1024.0):F1} MB): image uint8 [H, W, 3] RGB, text_embeddings [K, {detector.Model.Vlm.Manifest.EmbeddingDim}], vlm_weights [K]");
            return CliErrors.Success;
        });
        return command;
    }
}
