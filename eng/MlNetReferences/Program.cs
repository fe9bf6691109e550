// Writes compile-time reference copies of .NET assemblies in which every type and member is public.
//
// Usage: MlNetReferences <output directory> <assembly.dll>...
//
// Microsoft.ML.FVlm compiles against these copies so that its Persistence/ folder can use ML.NET's
// internal model-saving API (ModelSaveContext, ModelLoadContext, VersionInfo, LoadableClass, ...).
// At run time the real, unmodified assemblies are loaded; the library declares
// [assembly: IgnoresAccessChecksTo(...)] so that the runtime lets it call into their internals.
// The copies keep the original identity (name, version, public key) so every other reference to
// Microsoft.ML.Core / Microsoft.ML.Data unifies with them; their strong-name signature is no
// longer valid, which the compiler does not check. They are never copied to an output folder.
using Mono.Cecil;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: MlNetReferences <output directory> <assembly.dll>...");
    return 2;
}

string outputDirectory = args[0];
Directory.CreateDirectory(outputDirectory);
foreach (string input in args.Skip(1))
{
    if (!File.Exists(input))
    {
        Console.Error.WriteLine($"MlNetReferences: error: input assembly '{input}' does not exist.");
        return 1;
    }

    string output = Path.Combine(outputDirectory, Path.GetFileName(input));
    PublicReferenceWriter.Write(input, output);
    Console.WriteLine($"MlNetReferences: {Path.GetFileName(input)} -> {output}");
}

return 0;

/// <summary>Rewrites one assembly with all types, methods and fields public.</summary>
internal static class PublicReferenceWriter
{
    public static void Write(string input, string output)
    {
        using var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Path.GetDirectoryName(Path.GetFullPath(input))!);

        // Read fully into memory so the input file is not held open while the output is written.
        var readerParameters = new ReaderParameters { AssemblyResolver = resolver, InMemory = true, ReadingMode = ReadingMode.Immediate };
        using AssemblyDefinition assembly = AssemblyDefinition.ReadAssembly(input, readerParameters);

        foreach (ModuleDefinition module in assembly.Modules)
        {
            foreach (TypeDefinition type in module.Types)
                MakePublic(type);
        }

        // Write next to the destination, then move: an interrupted build never leaves a half-written
        // reference that a later incremental build would consider up to date.
        string temporary = output + ".tmp";
        assembly.Write(temporary);
        File.Move(temporary, output, overwrite: true);
    }

    private static void MakePublic(TypeDefinition type)
    {
        if (type.IsNested)
            type.IsNestedPublic = true;
        else
            type.IsPublic = true;

        // A field-like event has a private backing field with the event's own name; exposing it
        // would make every use of the event ambiguous to the compiler.
        var eventNames = new HashSet<string>(type.Events.Select(e => e.Name), StringComparer.Ordinal);
        foreach (FieldDefinition field in type.Fields)
        {
            if (!eventNames.Contains(field.Name))
                field.IsPublic = true;
        }

        foreach (MethodDefinition method in type.Methods)
        {
            // Explicit interface implementations stay private: their names are not C# identifiers
            // and they are reached through the interface anyway.
            if (method.HasOverrides && method.IsPrivate)
                continue;
            method.IsPublic = true;
        }

        foreach (TypeDefinition nested in type.NestedTypes)
            MakePublic(nested);
    }
}
