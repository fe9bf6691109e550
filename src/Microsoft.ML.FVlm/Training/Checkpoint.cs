using Microsoft.ML.FVlm.Modeling;
using TorchSharp;

namespace Microsoft.ML.FVlm.Training;

/// <summary>
/// Training checkpoints: the head's weights and buffers, the optimiser's state (momentum) and the
/// position in the data, so that resuming gives the same final weights as an uninterrupted run.
/// Layout: "FVLMCKPT", int32 version (1), int32 step, int32 epoch, int32 rows consumed, module
/// state (TorchSharp's format), optimiser state (TorchSharp's format).
/// </summary>
internal static class Checkpoint
{
    private const string Signature = "FVLMCKPT";
    private const int Version = 1;

    public static void Save(string path, DetectorHead head, torch.optim.Optimizer optimizer, TrainingPosition position)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = path + ".partial";
        using (var writer = new BinaryWriter(File.Create(temporary)))
        {
            writer.Write(System.Text.Encoding.ASCII.GetBytes(Signature));
            writer.Write(Version);
            writer.Write(position.Step);
            writer.Write(position.Epoch);
            writer.Write(position.RowsConsumed);
            head.save(writer);
            ((TorchSharp.Modules.OptimizerHelper)optimizer).save_state_dict(writer);
        }
        File.Move(temporary, path, overwrite: true);
    }

    public static TrainingPosition Load(string path, DetectorHead head, torch.optim.Optimizer optimizer)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        using var reader = new BinaryReader(File.OpenRead(path));
        string section = "the header";
        try
        {
            string signature = System.Text.Encoding.ASCII.GetString(reader.ReadBytes(Signature.Length));
            if (signature != Signature) throw new InvalidDataException($"'{path}' is not an F-VLM training checkpoint.");
            int version = reader.ReadInt32();
            if (version != Version) throw new InvalidDataException($"Checkpoint '{path}' has version {version}; this library reads version {Version}.");
            var position = new TrainingPosition(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
            // The head's section is read twice: checked (names, shapes, length) without loading, then loaded.
            long headStart = reader.BaseStream.Position;
            CheckpointHeadState.Check(path, reader, head, ref section);
            reader.BaseStream.Position = headStart;
            head.load(reader);
            section = "the optimiser's state";
            ((TorchSharp.Modules.OptimizerHelper)optimizer).load_state_dict(reader);
            return position;
        }
        catch (EndOfStreamException e)
        {
            // Checkpoints are renamed into place once complete, so a short one was cut afterwards (a copy, a full disk).
            throw new InvalidDataException($"Checkpoint '{path}' is truncated: {reader.BaseStream.Length} bytes, ending inside {section}. "
                + "Resume from another checkpoint, or train from the start.", e);
        }
    }
}
