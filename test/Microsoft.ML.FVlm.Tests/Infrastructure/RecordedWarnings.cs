using System.Diagnostics;

namespace Microsoft.ML.FVlm.Tests;

/// <summary>
/// Records the warnings written with <see cref="Trace.TraceWarning(string)"/> while it is alive. Trace listeners
/// are process-wide: a test that records must not run in parallel with one that warns.
/// </summary>
internal sealed class RecordedWarnings : TraceListener
{
    private readonly List<string> _messages = [];

    public RecordedWarnings() => Trace.Listeners.Add(this);

    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (_messages)
                return [.. _messages];
        }
    }

    public override void TraceEvent(TraceEventCache? eventCache, string source, TraceEventType eventType, int id, string? message)
    {
        if (eventType == TraceEventType.Warning)
        {
            lock (_messages)
                _messages.Add(message ?? "");
        }
    }

    public override void TraceEvent(TraceEventCache? eventCache, string source, TraceEventType eventType, int id, string? format, params object?[]? args) =>
        TraceEvent(eventCache, source, eventType, id, args is null ? format : string.Format(format ?? "", args));

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
