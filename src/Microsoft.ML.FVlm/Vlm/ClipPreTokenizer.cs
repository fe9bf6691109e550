using System.Globalization;
using System.Text;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// CLIP's pre-tokenisation: the pieces that its pattern
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>
/// finds, scanned by hand over code points (a .NET regex would see the two halves of a surrogate
/// pair, and so split letters outside the Basic Multilingual Plane differently from Python).
/// </summary>
internal static class ClipPreTokenizer
{
    private static readonly string[] Specials = ["<|startoftext|>", "<|endoftext|>"];
    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    public static IEnumerable<string> Split(string text)
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
            yield return text.Substring(i, length);
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
