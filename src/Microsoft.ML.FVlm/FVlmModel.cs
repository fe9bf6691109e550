using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
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

    /// <summary>A model of <paramref name="vlm"/> and <paramref name="head"/>; <paramref name="files"/> is what else it owns, freed after them (the folder a model zip's VLM was extracted to).</summary>
    public FVlmModel(FrozenVlm vlm, DetectorHead head, DetectorArchitecture architecture, IReadOnlyList<string> baseClassNames, int imageSize, string device,
        IDisposable? files = null)
    {
        _files = files;
        Vlm = vlm;
        Head = head;
        Architecture = architecture;
        BaseClassNames = baseClassNames.ToArray();
        Device = device;
        Detector = new OpenVocabularyDetector(vlm, head, imageSize, device);
        Graph = new GraphDetector(Detector);
    }

    public FrozenVlm Vlm { get; }
    public DetectorHead Head { get; }
    public DetectorArchitecture Architecture { get; }
    public IReadOnlyList<string> BaseClassNames { get; }

    /// <summary>The head's TorchSharp device ("cpu", "cuda[:n]").</summary>
    public string Device { get; }
    public OpenVocabularyDetector Detector { get; }

    /// <summary>The detector's ONNX graph on ONNX Runtime: how transformers detect.</summary>
    public GraphDetector Graph { get; }

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
        Head.Dispose();
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
