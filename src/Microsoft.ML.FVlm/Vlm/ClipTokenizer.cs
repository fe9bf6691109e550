using System.IO.Compression;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.FVlm.Vlm;

/// <summary>
/// CLIP's byte-level BPE tokenizer, reading the merges file that ships with CLIP
/// (<c>bpe_simple_vocab_16e6.txt.gz</c>) or a smaller file in the same format.
/// </summary>
/// <remarks>
/// The vocabulary is built as CLIP builds it: the 256 byte symbols (in CLIP's byte-to-unicode
/// order), the same 256 with the end-of-word marker <c>&lt;/w&gt;</c>, one token per merge in file
/// order, then <c>&lt;|startoftext|&gt;</c> and <c>&lt;|endoftext|&gt;</c>. CLIP uses only the first
/// 48,894 merges of its file (vocabulary 49,408); <see cref="FromMergesFile"/> takes that many by
/// default, or fewer when the file has fewer. The merging is Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>
/// (byte level, end-of-word suffix); the text it sees is cleaned as CLIP cleans it (<see cref="ClipTextCleaner"/>) and
/// split by CLIP's pre-tokenisation rule (<see cref="ClipPreTokenizer"/>), and the start and end tokens are added
/// here, so that an empty text is the two of them, as in CLIP.
/// </remarks>
internal sealed class ClipTokenizer
{
    /// <summary>The number of merges CLIP's own vocabulary uses (49,408 tokens in all).</summary>
    public const int ClipMergeCount = 49152 - 256 - 2;

    /// <summary>CLIP's context length: token sequences are padded or truncated to this many ids.</summary>
    public const int ClipContextLength = 77;

    private const string StartText = "<|startoftext|>";
    private const string EndText = "<|endoftext|>";
    private const string EndOfWord = "</w>";

    private readonly BpeTokenizer _bpe;

    private ClipTokenizer(IReadOnlyList<string> merges)
    {
        var vocabulary = new List<string>(512 + merges.Count + 2);
        vocabulary.AddRange(ByteSymbolsInVocabularyOrder());
        int byteCount = vocabulary.Count;
        for (int i = 0; i < byteCount; i++) vocabulary.Add(vocabulary[i] + EndOfWord);
        foreach (string merge in merges) vocabulary.Add(merge.Replace(" ", "", StringComparison.Ordinal));
        vocabulary.Add(StartText);
        vocabulary.Add(EndText);

        // A symbol that appears twice keeps its last id, as CLIP's dict(zip(vocab, range(len(vocab)))).
        var ids = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        for (int id = 0; id < vocabulary.Count; id++) ids[vocabulary[id]] = id;
        StartOfTextId = ids[StartText];
        EndOfTextId = ids[EndText];
        VocabularySize = ids.Count;
        // A pair listed twice ranks where it is listed last, as in CLIP's dict(zip(merges, range(len(merges)))):
        // dropping the earlier listings keeps every other pair's relative rank.
        var lastListing = new Dictionary<string, int>(merges.Count, StringComparer.Ordinal);
        for (int rank = 0; rank < merges.Count; rank++) lastListing[merges[rank]] = rank;
        _bpe = BpeTokenizer.Create(new BpeOptions(ids)
        {
            Merges = merges.Where((merge, rank) => lastListing[merge] == rank).ToList(),
            ByteLevel = true,
            EndOfWordSuffix = EndOfWord,
            SpecialTokens = new Dictionary<string, int> { [StartText] = StartOfTextId, [EndText] = EndOfTextId },
            Normalizer = ClipTextCleaner.Normalizer,
            PreTokenizer = ClipPreTokenizer.Instance,
        });
    }

    /// <summary>Id of <c>&lt;|startoftext|&gt;</c> (49406 for CLIP).</summary>
    public int StartOfTextId { get; }

    /// <summary>Id of <c>&lt;|endoftext|&gt;</c> (49407 for CLIP).</summary>
    public int EndOfTextId { get; }

    /// <summary>Number of token ids (49,408 for CLIP).</summary>
    public int VocabularySize { get; }

    /// <summary>Reads a merges file (plain text or gzip) in CLIP's format: a header line, then one "left right" pair per line.</summary>
    /// <param name="path">The merges file, e.g. <c>bpe_simple_vocab_16e6.txt.gz</c>.</param>
    /// <param name="mergeCount">How many merges to use; default: all, but at most <see cref="ClipMergeCount"/>.</param>
    public static ClipTokenizer FromMergesFile(string path, int? mergeCount = null)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"CLIP merges file '{path}' does not exist.", path);
        using var file = File.OpenRead(path);
        bool gzip = file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
        file.Position = 0;
        using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(stream, Encoding.UTF8);

        int limit = mergeCount ?? ClipMergeCount;
        if (limit < 0) throw new ArgumentOutOfRangeException(nameof(mergeCount), mergeCount, "The merge count must not be negative.");
        var merges = new List<string>();
        reader.ReadLine(); // "#version: 0.2"
        int lineNumber = 1;
        while (merges.Count < limit && reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
                throw new InvalidDataException($"CLIP merges file '{path}', line {lineNumber}: expected two symbols separated by one space, found {line.Length} characters that are not.");
            merges.Add(line);
        }
        if (mergeCount is { } wanted && merges.Count < wanted)
            throw new InvalidDataException($"CLIP merges file '{path}' has {merges.Count} merges; {wanted} were asked for.");
        try
        {
            return new ClipTokenizer(merges);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Microsoft.ML.Tokenizers refuses a merge whose left or right symbol no earlier merge forms.
            throw new InvalidDataException($"CLIP merges file '{path}' is not a BPE merge list: {e.Message}", e);
        }
    }

    /// <summary>Token ids of <paramref name="text"/>, starting with the start token and ending with the end token, not padded.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [StartOfTextId, .. _bpe.EncodeToIds(text), EndOfTextId];
    }

    /// <summary>
    /// What <see cref="Encode"/> encodes: the text cleaned (<see cref="ClipTextCleaner"/>) and split
    /// into CLIP's pieces, joined by single spaces. Each piece is encoded on its own, so two texts get
    /// the same token ids exactly when their forms are equal: <c>Circle</c>, <c>circle </c> and
    /// <c>circle</c>; <c>t-shirt</c> and <c>T - Shirt</c>. Needs no merges file.
    /// </summary>
    internal static string TokenizedForm(string text) => string.Join(' ', ClipPreTokenizer.Split(ClipTextCleaner.Clean(text)));

    /// <summary>
    /// Encodes a batch into a row-major [texts.Count, contextLength] array padded with 0, as CLIP's
    /// <c>tokenize(..., truncate=True)</c>: a longer sequence is cut and its last id set to the end token.
    /// </summary>
    public long[] EncodeBatch(IReadOnlyList<string> texts, int contextLength = ClipContextLength)
    {
        if (contextLength < 2) throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "The context length must hold at least the start and end tokens.");
        var batch = new long[texts.Count * contextLength];
        for (int row = 0; row < texts.Count; row++)
        {
            int[] ids = Encode(texts[row]);
            int length = Math.Min(ids.Length, contextLength);
            for (int i = 0; i < length; i++) batch[row * contextLength + i] = ids[i];
            if (ids.Length > contextLength) batch[row * contextLength + contextLength - 1] = EndOfTextId;
        }
        return batch;
    }

    /// <summary>
    /// The byte symbols in CLIP's (GPT-2's) vocabulary order: the printable bytes as themselves, then the others as
    /// the characters from U+0100 on, in byte order. <see cref="BpeTokenizer"/> maps bytes to the same characters.
    /// </summary>
    private static IEnumerable<string> ByteSymbolsInVocabularyOrder()
    {
        for (int b = 0; b < 256; b++) if (IsPrintable(b)) yield return ((char)b).ToString();
        for (int b = 0, extra = 0; b < 256; b++) if (!IsPrintable(b)) yield return ((char)(256 + extra++)).ToString();
    }

    private static bool IsPrintable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
}
