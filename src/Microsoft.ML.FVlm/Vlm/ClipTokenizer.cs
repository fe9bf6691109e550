using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;

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
/// default, or fewer when the file has fewer. Text is cleaned (<see cref="ClipTextCleaner"/>),
/// split with CLIP's pre-tokenisation rule, and each piece's UTF-8 bytes are merged by rank.
/// </remarks>
public sealed class ClipTokenizer
{
    /// <summary>The number of merges CLIP's own vocabulary uses (49,408 tokens in all).</summary>
    public const int ClipMergeCount = 49152 - 256 - 2;

    /// <summary>CLIP's context length: token sequences are padded or truncated to this many ids.</summary>
    public const int ClipContextLength = 77;

    private const string StartText = "<|startoftext|>";
    private const string EndText = "<|endoftext|>";
    private const string EndOfWord = "</w>";

    private readonly Dictionary<string, int> _encoder;
    private readonly Dictionary<(string, string), int> _mergeRanks;
    private readonly string[] _byteSymbols;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    private ClipTokenizer(IReadOnlyList<(string Left, string Right)> merges)
    {
        _byteSymbols = ByteSymbols();
        var vocabulary = new List<string>(512 + merges.Count + 2);
        vocabulary.AddRange(ByteSymbolsInVocabularyOrder());
        int byteCount = vocabulary.Count;
        for (int i = 0; i < byteCount; i++) vocabulary.Add(vocabulary[i] + EndOfWord);
        _mergeRanks = new Dictionary<(string, string), int>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            vocabulary.Add(merges[rank].Left + merges[rank].Right);
            _mergeRanks.TryAdd(merges[rank], rank);
        }
        vocabulary.Add(StartText);
        vocabulary.Add(EndText);

        _encoder = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        for (int id = 0; id < vocabulary.Count; id++) _encoder[vocabulary[id]] = id;
        StartOfTextId = _encoder[StartText];
        EndOfTextId = _encoder[EndText];
    }

    /// <summary>Id of <c>&lt;|startoftext|&gt;</c> (49406 for CLIP).</summary>
    public int StartOfTextId { get; }

    /// <summary>Id of <c>&lt;|endoftext|&gt;</c> (49407 for CLIP).</summary>
    public int EndOfTextId { get; }

    /// <summary>Number of token ids (49,408 for CLIP).</summary>
    public int VocabularySize => _encoder.Count;

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
        var merges = new List<(string, string)>();
        reader.ReadLine(); // "#version: 0.2"
        int lineNumber = 1;
        while (merges.Count < limit && reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
                throw new InvalidDataException($"CLIP merges file '{path}', line {lineNumber}: expected two symbols separated by one space, found {line.Length} characters that are not.");
            merges.Add((line[..space], line[(space + 1)..]));
        }
        if (mergeCount is { } wanted && merges.Count < wanted)
            throw new InvalidDataException($"CLIP merges file '{path}' has {merges.Count} merges; {wanted} were asked for.");
        return new ClipTokenizer(merges);
    }

    /// <summary>Token ids of <paramref name="text"/>, starting with the start token and ending with the end token, not padded.</summary>
    public int[] Encode(string text)
    {
        var ids = new List<int> { StartOfTextId };
        foreach (string piece in ClipPreTokenizer.Split(ClipTextCleaner.Clean(text)))
            ids.AddRange(EncodePiece(piece));
        ids.Add(EndOfTextId);
        return ids.ToArray();
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

    private int[] EncodePiece(string piece)
    {
        if (piece is StartText or EndText) return [_encoder[piece]];
        return _cache.GetOrAdd(piece, p =>
        {
            byte[] bytes = Encoding.UTF8.GetBytes(p);
            var symbols = new List<string>(bytes.Length);
            foreach (byte b in bytes) symbols.Add(_byteSymbols[b]);
            symbols[^1] += EndOfWord;
            MergeByRank(symbols);
            var ids = new int[symbols.Count];
            for (int i = 0; i < ids.Length; i++) ids[i] = _encoder[symbols[i]];
            return ids;
        });
    }

    /// <summary>Repeatedly merges the adjacent pair of lowest rank, every occurrence left to right, as CLIP's <c>bpe</c>.</summary>
    private void MergeByRank(List<string> symbols)
    {
        while (symbols.Count > 1)
        {
            int bestRank = int.MaxValue;
            (string, string) best = default;
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                if (_mergeRanks.TryGetValue((symbols[i], symbols[i + 1]), out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    best = (symbols[i], symbols[i + 1]);
                }
            }
            if (bestRank == int.MaxValue) return;

            int write = 0;
            for (int read = 0; read < symbols.Count; write++)
            {
                if (read + 1 < symbols.Count && symbols[read] == best.Item1 && symbols[read + 1] == best.Item2)
                {
                    symbols[write] = best.Item1 + best.Item2;
                    read += 2;
                }
                else
                {
                    symbols[write] = symbols[read];
                    read++;
                }
            }
            symbols.RemoveRange(write, symbols.Count - write);
        }
    }

    /// <summary>CLIP's (GPT-2's) reversible map from bytes to printable characters, indexed by byte.</summary>
    private static string[] ByteSymbols()
    {
        var map = new string[256];
        int extra = 0;
        for (int b = 0; b < 256; b++)
            map[b] = char.ConvertFromUtf32(IsPrintable(b) ? b : 256 + extra++);
        return map;
    }

    /// <summary>The byte symbols in CLIP's vocabulary order: printable bytes first, then the rest.</summary>
    private static IEnumerable<string> ByteSymbolsInVocabularyOrder()
    {
        string[] map = ByteSymbols();
        for (int b = 0; b < 256; b++) if (IsPrintable(b)) yield return map[b];
        for (int b = 0; b < 256; b++) if (!IsPrintable(b)) yield return map[b];
    }

    private static bool IsPrintable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
}
