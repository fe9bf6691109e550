using System.CommandLine;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm embed-text</c>: a vocabulary as the exported graph's inputs, text_embeddings.npy and vlm_weights.npy.</summary>
internal static class EmbedTextCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "model zip written by 'fvlm train' or mlContext.Model.Save", Required = true };
        var classes = new Option<string?>("--classes") { Description = "comma-separated class names (default: the model's vocabulary); names that are not base classes are novel" };
        var output = new Option<DirectoryInfo>("--out") { Description = "folder for text_embeddings.npy and vlm_weights.npy (NumPy float32)", Required = true };
        var command = new Command("embed-text", "Write a vocabulary as the inputs of the graph 'fvlm export' writes: text_embeddings.npy [K, D] and vlm_weights.npy [K].")
        {
            model, classes, output,
        };
        command.SetAction(parse =>
        {
            string folder = parse.GetValue(output)!.FullName;
            WritablePath.EnsureOutputFolder(folder, "--out", "the embeddings");
            var mlContext = new MLContext();
            using var loaded = ModelFile.Load(mlContext, parse.GetValue(model)!);
            string[]? names = parse.GetValue(classes)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            using var detector = names is null ? loaded.WithVocabulary(loaded.Vocabulary.Names, loaded.Vocabulary.IsNovel) : loaded.WithVocabulary(names);
            detector.ExportVocabulary(folder);
            int novel = detector.Vocabulary.IsNovel.Count(n => n);
            Console.WriteLine($"wrote text_embeddings.npy and vlm_weights.npy for {detector.Vocabulary.Names.Count} classes ({novel} novel) to {folder}");
            return CliErrors.Success;
        });
        return command;
    }
}
