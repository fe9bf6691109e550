using System.Diagnostics;
using System.Globalization;

namespace Microsoft.ML.FVlm.Cli;

/// <summary>
/// Prints the library's warnings (<see cref="Trace.TraceWarning(string)"/>) on standard error as
/// <c>warning: message</c>, beside <see cref="CliErrors"/>' <c>error: message</c>, while it is alive.
/// Other trace output (information, plain writes) is not printed.
/// </summary>
internal sealed class StandardErrorWarnings : TraceListener
{
    private StandardErrorWarnings()
    {
    }

    /// <summary>Starts printing; disposing stops.</summary>
    public static StandardErrorWarnings Start()
    {
        var listener = new StandardErrorWarnings();
        Trace.Listeners.Add(listener);
        return listener;
    }

    public override void TraceEvent(TraceEventCache? eventCache, string source, TraceEventType eventType, int id, string? message)
    {
        // Critical, Error and Warning are the three lowest values of TraceEventType.
        if (eventType <= TraceEventType.Warning)
            Console.Error.WriteLine($"{(eventType == TraceEventType.Warning ? "warning" : "error")}: {message}");
    }

    public override void TraceEvent(TraceEventCache? eventCache, string source, TraceEventType eventType, int id, string? format, params object?[]? args) =>
        TraceEvent(eventCache, source, eventType, id, args is null ? format : string.Format(CultureInfo.InvariantCulture, format ?? "", args));

    public override void Write(string? message)
    {
    }

    public override void WriteLine(string? message)
    {
    }

    protected override void Dispose(bool disposing)
    {
        Trace.Listeners.Remove(this);
        base.Dispose(disposing);
    }
}
