using System.Diagnostics;

namespace Microsoft.ML.FVlm.Tests;

/// <summary>Runs the dotnet host (the one running the tests when <c>DOTNET_HOST_PATH</c> names it) in a child process.</summary>
internal static class DotnetHost
{
    public sealed record Result(int ExitCode, string StandardOutput, string StandardError);

    /// <param name="arguments">Arguments after <c>dotnet</c>.</param>
    /// <param name="workingDirectory">The child's working directory (default: this process's).</param>
    /// <param name="isolated">
    /// Removes the MSBuild and VSTest variables the test host inherits from <c>dotnet test</c>, for
    /// a nested build or pack that must not run as part of the outer one.
    /// </param>
    /// <param name="timeout">Kills the child and fails the test after this long (default 10 minutes).</param>
    public static Result Run(IReadOnlyList<string> arguments, string? workingDirectory = null, bool isolated = false, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        if (isolated)
        {
            foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToArray())
                start.Environment.Remove(name);
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_NOLOGO"] = "1";
        }

        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(10);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', arguments)} did not finish in {limit.TotalMinutes:F0} minutes.");
        }
        return new Result(process.ExitCode, output.Result, error.Result);
    }
}
