using Microsoft.ML.FVlm.Shapes;

namespace Microsoft.ML.FVlm.Cli.Commands;

/// <summary>Builds <see cref="ShapesOptions"/> from command-line values; errors name the command-line option.</summary>
internal static class ShapesCliOptions
{
    private static readonly (string Field, string Option)[] s_names =
    [
        (nameof(ShapesOptions.ImageCount), "--images"),
        (nameof(ShapesOptions.ImageSize), "--size"),
        (nameof(ShapesOptions.MaxDegreeOfParallelism), "--threads"),
        (nameof(ShapesOptions.Split), "--split"),
    ];

    public static ShapesOptions Create(string split, int images, int seed, int size, int threads)
    {
        try
        {
            var options = new ShapesOptions
            {
                Split = ShapesSplitNames.Parse(split),
                ImageCount = images,
                Seed = seed,
                ImageSize = size,
                MaxDegreeOfParallelism = threads,
            };
            options.Validate();
            return options;
        }
        catch (ArgumentException e)
        {
            foreach (var (field, option) in s_names)
            {
                if (e.Message.StartsWith(field + " ", StringComparison.Ordinal))
                    throw new ArgumentException(option + e.Message[field.Length..], e);
            }
            throw;
        }
    }
}
