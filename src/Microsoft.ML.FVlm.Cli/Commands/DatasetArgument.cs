using Microsoft.ML.FVlm.Data;

namespace Microsoft.ML.FVlm.Cli.Commands;

/// <summary>
/// Resolves a <c>--data</c> value: a COCO / LVIS JSON file (images relative to its folder), or a
/// folder written by <c>fvlm shapes</c> holding <c>&lt;split&gt;.json</c>.
/// </summary>
internal static class DatasetArgument
{
    public static (string Json, string ImageFolder) Resolve(FileSystemInfo data, string defaultSplit)
    {
        if (data is FileInfo { Exists: true } file) return (file.FullName, file.DirectoryName!);
        string folder = data.FullName;
        string json = Path.Combine(folder, defaultSplit + ".json");
        if (File.Exists(json)) return (json, folder);
        if (Directory.Exists(folder))
            throw new FileNotFoundException($"--data: folder '{folder}' has no {defaultSplit}.json; give a COCO / LVIS JSON file or a folder written by 'fvlm shapes --split {defaultSplit}'.", json);
        throw new FileNotFoundException($"--data: '{folder}' does not exist.", folder);
    }

    public static CocoDataset Read(string json) => CocoJson.ReadDataset(json);
}
