using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// CLIP's text clean-up before tokenisation: the parts of <c>ftfy.fix_text</c> that matter for
/// class names and prompts (HTML entities, curly quotes, Latin ligatures, full-width forms,
/// control characters, NFC, and its own HTML unescaping), then <c>html.unescape</c> twice, whitespace collapsed to single
/// spaces, trimmed and lower-cased. ftfy's mojibake repair (text decoded with the wrong code page)
/// is not reproduced: it guesses, and vocabulary text typed by a user does not need it.
/// </summary>
internal static class ClipTextCleaner
{
    /// <summary><see cref="Clean"/> as Microsoft.ML.Tokenizers' normalizer.</summary>
    public static Normalizer Normalizer { get; } = new CleaningNormalizer();

    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        // ftfy decodes HTML entities itself unless the text looks like HTML (contains '<').
        string fixedText = FixText(text.Contains('<') ? text : WebUtility.HtmlDecode(text));
        // CLIP then unescapes twice more.
        fixedText = WebUtility.HtmlDecode(WebUtility.HtmlDecode(fixedText));
        return CollapseWhitespace(fixedText).ToLowerInvariant();
    }

    private static string FixText(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            int c = rune.Value;
            switch (c)
            {
                case '\u2018' or '\u2019' or '\u201A' or '\u201B' or '\u2032': builder.Append('\''); continue;
                case '\u201C' or '\u201D' or '\u201E' or '\u201F' or '\u2033': builder.Append('"'); continue;
                case '\r': continue; // ftfy turns CRLF and lone CR into LF; whitespace collapses it anyway.
            }
            if (c is >= 0xFB00 and <= 0xFB06 || c is >= 0xFF01 and <= 0xFF5E || c == 0x3000)
            {
                // Latin ligatures (ﬁ -> fi) and full-width ASCII (Ａ -> A) through their compatibility forms.
                builder.Append(rune.ToString().Normalize(NormalizationForm.FormKC));
                continue;
            }
            var category = Rune.GetUnicodeCategory(rune);
            if (category == UnicodeCategory.Control && !Rune.IsWhiteSpace(rune)) continue;
            builder.Append(rune.ToString());
        }
        return builder.ToString().Normalize(NormalizationForm.FormC);
    }

    private static string CollapseWhitespace(string text)
    {
        var builder = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (Rune.IsWhiteSpace(rune))
            {
                pendingSpace = builder.Length > 0;
                continue;
            }
            if (pendingSpace) builder.Append(' ');
            pendingSpace = false;
            builder.Append(rune.ToString());
        }
        return builder.ToString();
    }

    private sealed class CleaningNormalizer : Normalizer
    {
        public override string Normalize(string original) => Clean(original);

        public override string Normalize(ReadOnlySpan<char> original) => Clean(original.ToString());
    }
}
