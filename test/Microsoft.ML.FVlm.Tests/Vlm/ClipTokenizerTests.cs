using System.Text.Json;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Tests.Vlm;

public class ClipTokenizerTests
{
    private static readonly Lazy<ClipTokenizer> Clip = new(() => ClipTokenizer.FromMergesFile(SharedClip.MergesPath));

    public static IEnumerable<TestCaseData> ReferenceLines()
    {
        foreach (string line in File.ReadLines(SharedClip.File("tokenizer-reference.jsonl")))
        {
            using var json = JsonDocument.Parse(line);
            string text = json.RootElement.GetProperty("text").GetString()!;
            int[] ids = json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            yield return new TestCaseData(text, ids).SetArgDisplayNames(JsonSerializer.Serialize(text));
        }
    }

    [TestCaseSource(nameof(ReferenceLines))]
    public void ReproducesClipsOwnTokenizer(string text, int[] expected)
    {
        Assert.That(Clip.Value.Encode(text), Is.EqualTo(expected));
    }

    [Test]
    public void VocabularyHasClipsSizeAndSpecialIds()
    {
        Assert.That(Clip.Value.VocabularySize, Is.EqualTo(49408));
        Assert.That(Clip.Value.StartOfTextId, Is.EqualTo(49406));
        Assert.That(Clip.Value.EndOfTextId, Is.EqualTo(49407));
    }

    [Test]
    public void BatchPadsWithZerosAndTruncationKeepsTheEndToken()
    {
        string longText = string.Join(' ', Enumerable.Repeat("photo", 100));
        long[] batch = Clip.Value.EncodeBatch(["a photo of a cat.", longText], contextLength: 77);

        Assert.That(batch, Has.Length.EqualTo(2 * 77));
        int[] shortIds = Clip.Value.Encode("a photo of a cat.");
        Assert.That(batch.Take(shortIds.Length), Is.EqualTo(shortIds.Select(i => (long)i)));
        Assert.That(batch.Skip(shortIds.Length).Take(77 - shortIds.Length), Is.All.EqualTo(0L));
        Assert.That(batch[77], Is.EqualTo(49406L));
        Assert.That(batch[77 + 1], Is.EqualTo(1125L), "'photo' is id 1125 in CLIP's vocabulary");
        Assert.That(batch[2 * 77 - 1], Is.EqualTo(49407L));
    }

    [Test]
    public void CleansTextAsClipDoes()
    {
        // Curly quotes become straight ones, HTML entities are decoded, whitespace collapses, case folds.
        Assert.That(Clip.Value.Encode("DON\u2019T &amp; stop"), Is.EqualTo(Clip.Value.Encode("don't & stop")));
        // Decomposed accents are composed (NFC) before byte-level BPE.
        Assert.That(Clip.Value.Encode("cafe\u0301"), Is.EqualTo(Clip.Value.Encode("caf\u00e9")));
    }

    [Test]
    public void AnEmptyTextIsTheStartAndEndTokens()
    {
        Assert.That(Clip.Value.Encode(""), Is.EqualTo(new[] { 49406, 49407 }));
        Assert.That(Clip.Value.Encode(" \t "), Is.EqualTo(new[] { 49406, 49407 }));
    }

    [Test]
    public void ALetterOutsideTheBasicMultilingualPlaneJoinsTheWordAroundIt()
    {
        // CLIP's [\p{L}]+ takes U+1D538 (a letter) and "x" as one word: one end-of-word marker, on "x". A .NET regex
        // sees two surrogates, not a letter: [^\s\p{L}\p{N}]+ takes them as a word of their own, apart from "x".
        int[] word = Clip.Value.Encode("\U0001D538x"), words = Clip.Value.Encode("\U0001D538 x");
        Assert.That(word, Is.Not.EqualTo(words));
        Assert.That(word[^2], Is.EqualTo(words[^2]), "both end with x</w>");
        Assert.That(word[..^2], Is.Not.EqualTo(words[..^2]), "the letter's last byte carries </w> only when it ends a word");
    }

    [Test]
    public void ManyThreadsEncodeAsOne()
    {
        string[] texts = ReferenceLines().Select(c => (string)c.Arguments[0]!).ToArray();
        var sequential = texts.Select(Clip.Value.Encode).ToArray();
        var tokenizer = ClipTokenizer.FromMergesFile(SharedClip.MergesPath); // a fresh cache, filled concurrently
        var parallel = new int[texts.Length * 8][];
        Parallel.For(0, parallel.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => parallel[i] = tokenizer.Encode(texts[i % texts.Length]));
        for (int i = 0; i < parallel.Length; i++)
            Assert.That(parallel[i], Is.EqualTo(sequential[i % texts.Length]), texts[i % texts.Length]);
    }

    [Test]
    public void SmallMergesFileBuildsItsOwnVocabulary()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fvlm-merges-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "#version: 0.2\nr i\nn g</w>\nri ng</w>\n");
        try
        {
            var tokenizer = ClipTokenizer.FromMergesFile(path);
            Assert.That(tokenizer.VocabularySize, Is.EqualTo(512 + 3 + 2));
            // "ring" -> r i n g</w> -> ri n g</w> -> ri ng</w> -> ring</w>: the third merge, id 512 + 2;
            // start and end tokens follow the merges: 515 and 516.
            Assert.That(tokenizer.Encode("ring"), Is.EqualTo(new[] { 515, 514, 516 }));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void APairListedTwiceRanksWhereItIsListedLast()
    {
        // As CLIP's dict(zip(merges, range(len(merges)))) and dict(zip(vocab, range(len(vocab)))): "a b" ranks after
        // "b c</w>", and "ab" has the id of its last listing, 512 + 2; start and end follow at 515 and 516.
        string path = Path.Combine(Path.GetTempPath(), $"fvlm-merges-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "#version: 0.2\na b\nb c</w>\na b\n");
        try
        {
            var tokenizer = ClipTokenizer.FromMergesFile(path);
            const int a = 'a' - '!', bcEnd = 512 + 1, ab = 512 + 2, dEnd = 256 + 'd' - '!';
            // a b c</w>: "b c</w>" ranks first, then nothing merges "a" with "bc</w>" (first-listed ranks would give ab c</w>).
            Assert.That(tokenizer.Encode("abc"), Is.EqualTo(new[] { 515, a, bcEnd, 516 }));
            Assert.That(tokenizer.Encode("abd"), Is.EqualTo(new[] { 515, ab, dEnd, 516 }));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void AMergeOfASymbolNoEarlierMergeFormsNamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fvlm-merges-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "#version: 0.2\nxy z\n");
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromMergesFile(path))!;
            Assert.That(error.Message, Does.Contain(path).And.Contain("not a BPE merge list"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void MalformedMergesFileNamesTheLine()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fvlm-merges-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "#version: 0.2\nr i\nbad\n");
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => ClipTokenizer.FromMergesFile(path));
            Assert.That(error!.Message, Does.Contain(path).And.Contain("line 3"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
