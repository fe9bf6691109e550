using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// CLIP's pre-tokenisation: the pieces that its pattern
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>
/// finds, scanned by hand over code points. A .NET regex (Microsoft.ML.Tokenizers' <c>RegexPreTokenizer</c>
/// with the same pattern) sees the two halves of a surrogate pair, not a letter, and so splits letters outside
/// the Basic Multilingual Plane differently from Python: <c>𝔸x</c> is one piece to CLIP, two to the regex.
/// </summary>
internal sealed class ClipPreTokenizer : PreTokenizer
{
    private static readonly string[] Specials = ["<|startoftext|>", "<|endoftext|>"];
    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    private ClipPreTokenizer() { }

    /// <summary>The pre-tokenizer <see cref="ClipTokenizer"/> gives Microsoft.ML.Tokenizers' BPE.</summary>
    public static ClipPreTokenizer Instance { get; } = new();

    /// <summary>The pieces of <paramref name="text"/>, in order.</summary>
    public static IEnumerable<string> Split(string text) => Pieces(text).Select(p => text.Substring(p.Offset, p.Length));

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Pieces(text ?? "");

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Pieces(text.ToString());

    private static IEnumerable<(int Offset, int Length)> Pieces(string text)
    {
        int i = 0;
        while (i < text.Length)
        {
            Rune rune = Rune.GetRuneAt(text, i);
            if (Rune.IsWhiteSpace(rune))
            {
                i += rune.Utf16SequenceLength;
                continue;
            }
            int length = MatchAlternatives(text, i, rune);
            yield return (i, length);
            i += length;
        }
    }

    /// <summary>Length of the match at <paramref name="start"/>, trying the alternatives in the pattern's order.</summary>
    private static int MatchAlternatives(string text, int start, Rune first)
    {
        foreach (string special in Specials)
            if (string.CompareOrdinal(text, start, special, 0, special.Length) == 0) return special.Length;
        foreach (string contraction in Contractions)
            if (string.CompareOrdinal(text, start, contraction, 0, contraction.Length) == 0) return contraction.Length;

        var kind = KindOf(first);
        if (kind == Kind.Number) return first.Utf16SequenceLength;
        int end = start;
        while (end < text.Length)
        {
            Rune rune = Rune.GetRuneAt(text, end);
            if (KindOf(rune) != kind) break;
            end += rune.Utf16SequenceLength;
        }
        return end - start;
    }

    private enum Kind { Letter, Number, Other, Space }

    private static Kind KindOf(Rune rune)
    {
        if (Rune.IsWhiteSpace(rune)) return Kind.Space;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }
}
