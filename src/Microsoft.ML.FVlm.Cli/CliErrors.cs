namespace Microsoft.ML.FVlm.Cli;

/// <summary>
/// Exit codes scripts can rely on, and the one place where user errors become a message.
/// 0 success, 1 a user error (bad option, missing or malformed file), 2 command-line syntax, 70 an internal error.
/// The library's warnings are printed on standard error meanwhile (<see cref="StandardErrorWarnings"/>).
/// </summary>
internal static class CliErrors
{
    public const int Success = 0;
    public const int UserError = 1;
    public const int SyntaxError = 2;
    public const int InternalError = 70;

    public static int Run(Func<int> action)
    {
        using var warnings = StandardErrorWarnings.Start();
        try
        {
            return action();
        }
        catch (Exception e) when (IsUserError(e))
        {
            // Plain text on standard error, so that scripts can read it whatever the terminal.
            Console.Error.WriteLine($"error: {e.Message}");
            return UserError;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"internal error: {e}");
            return InternalError;
        }
    }

    private static bool IsUserError(Exception e) =>
        e is ArgumentException or FileNotFoundException or DirectoryNotFoundException
          or InvalidDataException or FormatException or System.Text.Json.JsonException or UnauthorizedAccessException
          or Commands.UnwritablePathException;
}
