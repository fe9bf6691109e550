using System.CommandLine;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>
/// <c>fvlm upgrade</c>: a model zip written again in this version's format. A zip saved before format 0x00010007 has no
/// head graphs: it loads everywhere, but loading it makes the head with TorchSharp; written again, it loads and detects
/// with ONNX Runtime alone (docs/deploy.md).
/// </summary>
internal static class UpgradeCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "model zip written by 'fvlm train' or mlContext.Model.Save, by this or an earlier version", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "the model zip to write (not --model itself)", Required = true };
        var command = new Command("upgrade", "Write a model zip again in this version's format, with the head's graphs, so that it loads and detects without TorchSharp.")
        {
            model, output,
        };
        command.SetAction(parse =>
        {
            var source = parse.GetValue(model)!;
            var file = parse.GetValue(output)!;
            if (SameFile(source, file))
                throw new ArgumentException($"--out is --model ('{file.FullName}'): write the upgraded zip elsewhere, so that the original stays as it was until the new one is checked.");
            WritablePath.EnsureOutputFolder(file.Directory!.FullName, "--out", "the model zip");
            var mlContext = new MLContext();
            using var detector = ModelFile.Load(mlContext, source, out var schema);
            string temporary = file.FullName + ".partial";
            try
            {
                mlContext.Model.Save(detector, schema, temporary);
                File.Move(temporary, file.FullName, overwrite: true);
            }
            finally
            {
                File.Delete(temporary);
            }
            Console.WriteLine($"wrote {file.FullName} ({new FileInfo(file.FullName).Length / (1024.0 * 1024.0):F1} MB), the head's graphs included");
            return CliErrors.Success;
        });
        return command;
    }

    /// <summary>Whether the two paths name one file: after following links, compared as the file system compares names.</summary>
    private static bool SameFile(FileInfo model, FileInfo output)
    {
        static string Resolved(FileInfo file) => file.Exists ? (file.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? file.FullName) : Path.GetFullPath(file.FullName);
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return string.Equals(Resolved(model), Resolved(output), comparison);
    }
}
