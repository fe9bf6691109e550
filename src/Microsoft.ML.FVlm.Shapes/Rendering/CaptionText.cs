namespace Microsoft.ML.FVlm.Shapes.Rendering;

/// <summary>English captions: "a red hexagon"; scenes "two blue circles, an orange arrow and a red hexagon".</summary>
internal static class CaptionText
{
    private static readonly string[] s_numbers = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

    /// <summary>"a red hexagon" / "an orange arrow".</summary>
    public static string Object(ShapesColor color, ShapesCategory category) => $"{Article(color.Name)} {color.Name} {category.Name}";

    /// <summary>
    /// Names every object once, grouping equal (colour, category) pairs with a number word, in order of
    /// first appearance; "" for no objects.
    /// </summary>
    public static string Scene(IEnumerable<(ShapesColor Color, ShapesCategory Category)> objects)
    {
        var groups = objects
            .GroupBy(o => (o.Color.Name, o.Category.Id))
            .Select(g => g.Count() == 1
                ? Object(g.First().Color, g.First().Category)
                : $"{Number(g.Count())} {g.First().Color.Name} {g.First().Category.PluralName}")
            .ToList();
        return groups.Count switch
        {
            0 => "",
            1 => groups[0],
            _ => string.Join(", ", groups.Take(groups.Count - 1)) + " and " + groups[^1],
        };
    }

    private static string Article(string word) => "aeiou".Contains(word[0]) ? "an" : "a";

    private static string Number(int n) => n < s_numbers.Length ? s_numbers[n] : n.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
