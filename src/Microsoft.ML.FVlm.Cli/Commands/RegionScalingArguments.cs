using System.CommandLine;
using System.Globalization;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Cli.Commands;

// Microsoft.ML declares a namespace named Command; this alias, inside our namespace, wins over it.
using Command = System.CommandLine.Command;

/// <summary>The options that choose the scales the frozen VLM embeds regions at (<see cref="RegionScaling"/>), shared by train, eval and vlm-eval.</summary>
internal sealed class RegionScalingArguments
{
    private readonly Option<string?> _scales;
    private readonly Option<double?> _objectSize;
    private readonly Option<double?> _spread;
    private readonly FVlmOptions _defaults = new();

    /// <param name="scalesDescription">What the scales are for in this command, and what happens without the option.</param>
    public RegionScalingArguments(string scalesDescription)
    {
        _scales = new Option<string?>("--region-scales") { Description = $"comma-separated canvas scales at which the VLM embeds regions, e.g. 0.5,1,2 ({scalesDescription})" };
        _objectSize = new Option<double?>("--region-object-size")
        {
            Description = FormattableString.Invariant($"with --region-scales: the box side in pixels, after scaling, that the VLM embeds best (default {_defaults.VlmRegionObjectSize})"),
        };
        _spread = new Option<double?>("--region-scale-spread")
        {
            Description = FormattableString.Invariant($"with --region-scales: spread of the scale weights, natural-log units (default {_defaults.VlmRegionScaleSpread})"),
        };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(_scales);
        command.Options.Add(_objectSize);
        command.Options.Add(_spread);
    }

    /// <summary>The scaling asked for, or null when --region-scales is absent.</summary>
    /// <exception cref="ArgumentException">A value is not a number, or the scaling is invalid; the message names the option.</exception>
    public RegionScaling? Parse(ParseResult parse)
    {
        if (parse.GetValue(_scales) is not { } text)
        {
            if (parse.GetValue(_objectSize) is not null || parse.GetValue(_spread) is not null)
                throw new ArgumentException("--region-object-size and --region-scale-spread need --region-scales (the scales they weigh).");
            return null;
        }
        var scales = new List<double>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double scale))
                throw new ArgumentException($"--region-scales: '{part}' is not a number; expected comma-separated scales such as 0.5,1,2.");
            scales.Add(scale);
        }
        try
        {
            return new RegionScaling(scales, parse.GetValue(_objectSize) ?? _defaults.VlmRegionObjectSize, parse.GetValue(_spread) ?? _defaults.VlmRegionScaleSpread);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--region-scales / --region-object-size / --region-scale-spread: {e.Message}", e);
        }
    }
}
