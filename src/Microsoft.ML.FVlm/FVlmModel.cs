using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Onnx;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm;

/// <summary>
/// What a fitted F-VLM consists of, shared by the transformers of every vocabulary made from it:
/// the frozen VLM, the trained head, the head's architecture and the base class names. Reference
/// counted: every transformer made from it holds a share, and so does every call in flight
/// (<see cref="Use"/>); the native resources are freed when the last share is returned, never under
/// a running call.
/// </summary>
internal sealed class FVlmModel
{
    // Shares held: transformers plus calls in flight. -1 once freed: no share can be taken again.
    private int _shares;

    private readonly IDisposable? _files;
    private readonly Func<(DetectorHead Head, string Device)> _loadHead;
    private readonly Lock _headLock = new();
    // The TorchSharp detector, once made (null until then; a failure to make it is not kept: the next call tries again).
    private OpenVocabularyDetector? _detector;
    private readonly byte[]? _savedHead;

    /// <summary>A model of a head just trained: its graphs are exported from it.</summary>
    /// <param name="vlm">The frozen VLM.</param>
    /// <param name="head">The trained head.</param>
    /// <param name="architecture">The head's architecture.</param>
    /// <param name="baseClassNames">The classes whose annotations trained the head.</param>
    /// <param name="imageSize">The longest side on the encoder's canvas.</param>
    /// <param name="device">The head's TorchSharp device.</param>
    /// <param name="files">What else the model owns, freed after the rest (the folder a model zip's VLM was extracted to).</param>
    public FVlmModel(FrozenVlm vlm, DetectorHead head, DetectorArchitecture architecture, IReadOnlyList<string> baseClassNames, int imageSize, string device,
        IDisposable? files = null)
        : this(vlm, HeadGraphs.Export(head, vlm.Manifest), architecture, baseClassNames, imageSize, () => (head, device), savedHead: null, files)
    {
        _ = Detector;
    }

    /// <summary>
    /// A model whose head is its graphs (as a model zip holds them): the TorchSharp head is made from <paramref name="loadHead"/>
    /// only when something asks for it (<see cref="Head"/>, <see cref="Detector"/>), so that detecting needs no TorchSharp.
    /// </summary>
    /// <param name="vlm">The frozen VLM.</param>
    /// <param name="headGraphs">The head's graphs.</param>
    /// <param name="architecture">The head's architecture.</param>
    /// <param name="baseClassNames">The classes whose annotations trained the head.</param>
    /// <param name="imageSize">The longest side on the encoder's canvas.</param>
    /// <param name="loadHead">Makes the TorchSharp head and chooses its device (called once, at most).</param>
    /// <param name="savedHead">The head's state dictionary as saved (TorchSharp's format), written again when the model is saved.</param>
    /// <param name="files">What else the model owns, freed after the rest.</param>
    public FVlmModel(FrozenVlm vlm, HeadGraphs headGraphs, DetectorArchitecture architecture, IReadOnlyList<string> baseClassNames, int imageSize,
        Func<(DetectorHead Head, string Device)> loadHead, byte[]? savedHead, IDisposable? files)
    {
        _files = files;
        _savedHead = savedHead;
        Vlm = vlm;
        HeadGraphs = headGraphs;
        Architecture = architecture;
        BaseClassNames = baseClassNames.ToArray();
        ImageSize = imageSize;
        _loadHead = loadHead;
        Graph = new GraphDetector(vlm, headGraphs, imageSize);
    }

    public FrozenVlm Vlm { get; }

    /// <summary>The trained head as ONNX graphs: what detection runs.</summary>
    public HeadGraphs HeadGraphs { get; }

    public DetectorArchitecture Architecture { get; }
    public IReadOnlyList<string> BaseClassNames { get; }

    /// <summary>Longest image side on the encoder's canvas, in pixels.</summary>
    public int ImageSize { get; }

    /// <summary>The trained head's TorchSharp modules, made on first use for a loaded model (TorchSharp's native library is needed from then on).</summary>
    public DetectorHead Head => Detector.Head;

    /// <summary>Whether the head's TorchSharp modules have been made (a loaded model makes them only when asked for).</summary>
    public bool HeadIsMade => Volatile.Read(ref _detector) is not null;

    /// <summary>The head's TorchSharp device ("cpu", "cuda[:n]"), chosen when the head is made.</summary>
    public string Device => Detector.Device;

    /// <summary>The detector on TorchSharp (the head's modules), made on first use: benchmarks and tests compare it with the graph.</summary>
    public OpenVocabularyDetector Detector
    {
        get
        {
            if (Volatile.Read(ref _detector) is { } made) return made;
            lock (_headLock)
            {
                if (_detector is not null) return _detector;
                var (head, device) = _loadHead();
                try
                {
                    Volatile.Write(ref _detector, new OpenVocabularyDetector(Vlm, head, ImageSize, device));
                }
                catch
                {
                    head.Dispose();
                    throw;
                }
                return _detector;
            }
        }
    }

    /// <summary>The detector's ONNX graph on ONNX Runtime: how transformers detect.</summary>
    public GraphDetector Graph { get; }

    /// <summary>Writes the head's state dictionary (TorchSharp's format): as it was loaded, or from the modules of a head just trained.</summary>
    public void WriteHead(BinaryWriter writer)
    {
        if (_savedHead is not null) writer.Write(_savedHead);
        else Head.save(writer);
    }

    /// <summary>Whether the native resources have been freed.</summary>
    public bool IsFreed => Volatile.Read(ref _shares) < 0;

    /// <summary>Takes a share for a transformer; it returns it with <see cref="Release"/>.</summary>
    /// <exception cref="ObjectDisposedException">The model was freed: every transformer made from it was disposed.</exception>
    public FVlmModel Share()
    {
        if (!TryAcquire()) throw Freed();
        return this;
    }

    /// <summary>
    /// Takes a share for the duration of one call that runs the VLM or the head (detection, saving):
    /// the model cannot be freed until the returned lease is disposed.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The model was freed.</exception>
    public Lease Use() => TryAcquire() ? new Lease(this) : throw Freed();

    /// <summary>Returns a share; the last one frees the VLM's sessions and the head's weights.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _shares) != 0) return;
        // Nobody holds a share: free, unless a share was taken again in between (then its holder frees).
        if (Interlocked.CompareExchange(ref _shares, -1, 0) != 0) return;
        Graph.Dispose();
        Volatile.Read(ref _detector)?.Head.Dispose();
        Vlm.Dispose();
        _files?.Dispose();
    }

    private bool TryAcquire()
    {
        int shares = Volatile.Read(ref _shares);
        while (shares >= 0)
        {
            int seen = Interlocked.CompareExchange(ref _shares, shares + 1, shares);
            if (seen == shares) return true;
            shares = seen;
        }
        return false;
    }

    private static ObjectDisposedException Freed() =>
        new(nameof(FVlmTransformer), "Every transformer made from this model was disposed, which freed its ONNX sessions and head weights; load the model again.");

    /// <summary>A share held for one call; disposing it returns the share.</summary>
    public readonly struct Lease(FVlmModel model) : IDisposable
    {
        public void Dispose() => model.Release();
    }
}
