namespace Microsoft.ML.FVlm.Shapes;

/// <summary>
/// LVIS frequency group of a category: how many training images it appears in. A fixed property of the
/// Shapes world; <see cref="Rare"/> categories are the novel ones (never annotated in <c>train-base</c>).
/// </summary>
public enum ShapeFrequency
{
    /// <summary>In more than a tenth of the training images (LVIS code "f").</summary>
    Frequent,

    /// <summary>In more than a hundredth and at most a tenth of the training images (LVIS code "c").</summary>
    Common,

    /// <summary>In at most a hundredth of the training images (LVIS code "r"); the novel categories.</summary>
    Rare,
}
