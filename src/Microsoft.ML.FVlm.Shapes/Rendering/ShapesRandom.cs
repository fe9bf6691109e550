namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>
/// xoshiro256** seeded through SplitMix64: a small generator whose output is fixed by this file alone,
/// unlike <see cref="System.Random"/>, whose algorithm may change between .NET versions.
/// </summary>
internal sealed class ShapesRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public ShapesRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>A generator for one item of one stream, e.g. (seed, stream "train", image 17).</summary>
    public static ShapesRandom For(int seed, ulong stream, long index)
    {
        ulong x = (ulong)(uint)seed;
        ulong key = SplitMix64(ref x) ^ (stream * 0xD6E8FEB86659FD93UL);
        x = key;
        key = SplitMix64(ref x) ^ (ulong)index;
        x = key;
        return new ShapesRandom(SplitMix64(ref x));
    }

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [min, max).</summary>
    public double Uniform(double min, double max) => min + (max - min) * NextDouble();

    /// <summary>Uniform integer in [min, max) (Lemire's multiply-shift; the tiny bias is irrelevant here).</summary>
    public int Next(int min, int max)
    {
        ulong range = (ulong)(max - min);
        return min + (int)(((NextUInt64() >> 32) * range) >> 32);
    }

    public bool Chance(double probability) => NextDouble() < probability;

    /// <summary>Log-uniform in [min, max).</summary>
    public double LogUniform(double min, double max) => Math.Exp(Uniform(Math.Log(min), Math.Log(max)));

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(0, items.Count)];

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
