namespace Microsoft.ML.FVlm;

/// <summary>
/// Holds off garbage collection during a training step or a batch of inference. TorchSharp 0.107
/// passes temporary <c>Scalar</c> objects (for example the implicit <c>alpha = 1</c> of <c>a + b</c>,
/// or the <c>1</c> of <c>t == 1</c>) to native code by handle only, so a collection triggered by
/// another thread can finalise one while libtorch still reads it (TorchSharp pull requests 1434 and
/// 1496, open). Measured: "Expected false to be true ... toFloat" in <c>add</c> after 718 training
/// steps of a CLI run, and "... toLong" in <c>eq</c> (MultiScaleRoiAlign) 7 to 14 minutes (some 700
/// to 1,400 images) into <c>fvlm bench-transform</c>. No collection, no finaliser, no race. If the
/// guarded work allocates more than the budget, the runtime collects anyway and ends the region; only one region
/// exists per process, so concurrent callers after the first run unguarded.
/// </summary>
internal readonly struct NativeCallGuard : IDisposable
{
    private const long Budget = 192L << 20;
    private readonly bool _active;

    private NativeCallGuard(bool active) => _active = active;

    public static NativeCallGuard Enter()
    {
        try
        {
            return new NativeCallGuard(GC.TryStartNoGCRegion(Budget));
        }
        catch (InvalidOperationException)
        {
            return new NativeCallGuard(false); // another thread holds a region
        }
        catch (ArgumentOutOfRangeException)
        {
            return new NativeCallGuard(false); // budget larger than this runtime allows
        }
    }

    /// <summary>Regions the runtime ended before their guard did, because the guarded work allocated more than the budget (unprotected from then on).</summary>
    internal static int RegionsEndedEarly => _endedEarly;

    private static int _endedEarly;

    public void Dispose()
    {
        if (!_active) return;
        try
        {
            GC.EndNoGCRegion();
        }
        catch (InvalidOperationException)
        {
            // The region ended before this guard: the runtime ended it (budget exceeded), or, with
            // concurrent callers, another guard ended it (checking the latency mode first would race).
            Interlocked.Increment(ref _endedEarly);
        }
    }
}
