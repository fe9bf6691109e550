using Microsoft.ML.FVlm.Shapes.Rendering;
using F = Microsoft.ML.FVlm.Shapes.Rendering.ShapeFamilies;

namespace Microsoft.ML.FVlm.Shapes;

/// <summary>
/// The fixed vocabulary of the Shapes world: 48 categories (16 frequent, 19 common, 13 rare, close to
/// LVIS v1's 405 / 461 / 337 of 1203) and 11 colours. Similar pairs are deliberate: circle / ellipse / ring,
/// square / rectangle / diamond, pentagon / hexagon / octagon, five- / six- / four-pointed star,
/// cross / plus sign, semicircle / arch / quarter circle, leaf / teardrop, sun / gear / flower,
/// wave / zigzag. Several novel (rare) categories have a frequent or common look-alike, so detecting them
/// needs the vision-language model rather than the detector's own classes.
/// </summary>
public static class ShapesWorld
{
    private static readonly ShapesCategory[] s_categories = Build(
        ("circle", "circles", ShapeFrequency.Frequent, F.Circle),
        ("ellipse", "ellipses", ShapeFrequency.Frequent, F.Ellipse),
        ("ring", "rings", ShapeFrequency.Rare, F.Ring),
        ("semicircle", "semicircles", ShapeFrequency.Frequent, F.Semicircle),
        ("quarter circle", "quarter circles", ShapeFrequency.Common, F.QuarterCircle),
        ("crescent", "crescents", ShapeFrequency.Frequent, F.Crescent),
        ("arch", "arches", ShapeFrequency.Rare, F.Arch),
        ("square", "squares", ShapeFrequency.Frequent, F.Square),
        ("rectangle", "rectangles", ShapeFrequency.Frequent, F.Rectangle),
        ("rounded rectangle", "rounded rectangles", ShapeFrequency.Common, F.RoundedRectangle),
        ("pill", "pills", ShapeFrequency.Common, F.Pill),
        ("diamond", "diamonds", ShapeFrequency.Rare, F.Diamond),
        ("frame", "frames", ShapeFrequency.Common, F.Frame),
        ("triangle", "triangles", ShapeFrequency.Frequent, F.Triangle),
        ("right triangle", "right triangles", ShapeFrequency.Common, F.RightTriangle),
        ("pentagon", "pentagons", ShapeFrequency.Frequent, F.Pentagon),
        ("hexagon", "hexagons", ShapeFrequency.Rare, F.Hexagon),
        ("octagon", "octagons", ShapeFrequency.Frequent, F.Octagon),
        ("trapezoid", "trapezoids", ShapeFrequency.Frequent, F.Trapezoid),
        ("parallelogram", "parallelograms", ShapeFrequency.Frequent, F.Parallelogram),
        ("kite", "kites", ShapeFrequency.Rare, F.Kite),
        ("five-pointed star", "five-pointed stars", ShapeFrequency.Frequent, F.FivePointedStar),
        ("six-pointed star", "six-pointed stars", ShapeFrequency.Rare, F.SixPointedStar),
        ("four-pointed star", "four-pointed stars", ShapeFrequency.Common, F.FourPointedStar),
        ("gear", "gears", ShapeFrequency.Rare, F.Gear),
        ("flower", "flowers", ShapeFrequency.Common, F.Flower),
        ("sun", "suns", ShapeFrequency.Common, F.Sun),
        ("cross", "crosses", ShapeFrequency.Frequent, F.Cross),
        ("plus sign", "plus signs", ShapeFrequency.Rare, F.PlusSign),
        ("arrow", "arrows", ShapeFrequency.Frequent, F.Arrow),
        ("chevron", "chevrons", ShapeFrequency.Common, F.Chevron),
        ("heart", "hearts", ShapeFrequency.Rare, F.Heart),
        ("teardrop", "teardrops", ShapeFrequency.Rare, F.Teardrop),
        ("leaf", "leaves", ShapeFrequency.Common, F.Leaf),
        ("lightning bolt", "lightning bolts", ShapeFrequency.Rare, F.LightningBolt),
        ("speech bubble", "speech bubbles", ShapeFrequency.Rare, F.SpeechBubble),
        ("cloud", "clouds", ShapeFrequency.Common, F.Cloud),
        ("house", "houses", ShapeFrequency.Frequent, F.House),
        ("hourglass", "hourglasses", ShapeFrequency.Common, F.Hourglass),
        ("shield", "shields", ShapeFrequency.Common, F.Shield),
        ("keyhole", "keyholes", ShapeFrequency.Common, F.Keyhole),
        ("tag", "tags", ShapeFrequency.Common, F.Tag),
        ("bone", "bones", ShapeFrequency.Common, F.Bone),
        ("crown", "crowns", ShapeFrequency.Common, F.Crown),
        ("spiral", "spirals", ShapeFrequency.Common, F.Spiral),
        ("zigzag", "zigzags", ShapeFrequency.Rare, F.Zigzag),
        ("wave", "waves", ShapeFrequency.Frequent, F.Wave),
        ("check mark", "check marks", ShapeFrequency.Common, F.CheckMark));

    private static readonly ShapesColor[] s_colors =
    [
        new("red", 215, 35, 35),
        new("orange", 245, 140, 25),
        new("yellow", 240, 215, 35),
        new("green", 40, 165, 60),
        new("blue", 35, 85, 215),
        new("purple", 130, 55, 180),
        new("pink", 240, 125, 185),
        new("brown", 125, 80, 40),
        new("black", 20, 20, 20),
        new("white", 240, 240, 240),
        new("gray", 128, 128, 128),
    ];

    /// <summary>All categories, ordered by id (ids 1 to <c>Count</c>).</summary>
    public static IReadOnlyList<ShapesCategory> Categories => s_categories;

    /// <summary>The colour palette; every instance takes one of these (jittered).</summary>
    public static IReadOnlyList<ShapesColor> Colors => s_colors;

    /// <summary>The category with the given 1-based id.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such id.</exception>
    public static ShapesCategory GetCategory(int id) =>
        id >= 1 && id <= s_categories.Length
            ? s_categories[id - 1]
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"category ids run from 1 to {s_categories.Length}");

    /// <summary>The categories of one frequency group, by id.</summary>
    public static IReadOnlyList<ShapesCategory> InGroup(ShapeFrequency frequency) =>
        s_categories.Where(c => c.Frequency == frequency).ToArray();

    private static ShapesCategory[] Build(params (string Name, string Plural, ShapeFrequency Frequency, ShapeFamily Family)[] rows) =>
        rows.Select((row, i) => new ShapesCategory(i + 1, row.Name, row.Plural, row.Frequency, row.Family)).ToArray();
}
