namespace Microsoft.ML.FVlm.Evaluation;

/// <summary>
/// <c>np.mean</c> of float64 values, with NumPy's summation order (pairwise, eight-way unrolled, applied
/// per block of 8192 elements, the size of NumPy's iteration buffer), so means agree to the last bit.
/// </summary>
internal static class NumPyMean
{
    private const int BlockSize = 8192;
    private const int PairwiseBlock = 128;

    /// <summary>The mean, or <see cref="double.NaN"/> for no values.</summary>
    public static double Mean(ReadOnlySpan<double> values)
    {
        double sum = 0.0;
        for (int start = 0; start < values.Length; start += BlockSize)
            sum += PairwiseSum(values.Slice(start, Math.Min(BlockSize, values.Length - start)));
        return sum / values.Length;
    }

    /// <summary>NumPy's <c>pairwise_sum</c> for doubles.</summary>
    internal static double PairwiseSum(ReadOnlySpan<double> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            double res = 0.0;
            for (int i = 0; i < n; i++)
                res += a[i];
            return res;
        }
        if (n <= PairwiseBlock)
        {
            double r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7];
            int i;
            for (i = 8; i < n - (n % 8); i += 8)
            {
                r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3];
                r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7];
            }
            double res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
            for (; i < n; i++)
                res += a[i];
            return res;
        }
        int half = n / 2;
        half -= half % 8;
        return PairwiseSum(a[..half]) + PairwiseSum(a[half..]);
    }
}
