using System.CommandLine;
using System.Text.Json;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary><c>fvlm tokenize</c>: CLIP token ids for each text, one JSON array per line (unpadded).</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var merges = new Option<FileInfo>("--merges") { Description = "CLIP BPE merges file (bpe_simple_vocab_16e6.txt.gz or a file in its format)", Required = true };
        var mergeCount = new Option<int?>("--merge-count") { Description = $"merges to use (default: all, at most {ClipTokenizer.ClipMergeCount}, as CLIP)" };
        var texts = new Argument<string[]>("TEXT") { Description = "texts to tokenize", Arity = ArgumentArity.OneOrMore };
        var command = new Command("tokenize", "Print CLIP's token ids for each text as a JSON array (start and end tokens included, no padding).")
        {
            merges, mergeCount, texts,
        };
        command.SetAction(parse =>
        {
            var tokenizer = ClipTokenizer.FromMergesFile(parse.GetValue(merges)!.FullName, parse.GetValue(mergeCount));
            foreach (string text in parse.GetValue(texts)!)
                Console.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(text)));
            return CliErrors.Success;
        });
        return command;
    }
}
