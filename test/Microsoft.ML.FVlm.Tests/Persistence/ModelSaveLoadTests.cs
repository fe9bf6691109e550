using System.Buffers.Binary;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using Microsoft.ML.Data;
using Microsoft.ML.FVlm.Persistence;
using Microsoft.ML.FVlm.TestTransformers;

namespace Microsoft.ML.FVlm.Tests.Persistence;

/// <summary>
/// Save / load of a transformer that implements ITransformer directly (ScaleTransformer), through
/// mlContext.Model.Save and mlContext.Model.Load, with the load in another process.
/// </summary>
public class ModelSaveLoadTests
{
    private const string ParametersEntry = "TransformerChain/" + ScaleTransformer.ParametersEntry;
    private const string ModelKeyEntry = "TransformerChain/Model.key";

    // output = input * [2, -1, 0.5] + 1, by hand.
    private static readonly float[][] Inputs = [[1, 2, 3], [4, 5, 6], [-0.25f, 0, 1e6f]];
    private static readonly float[][] Expected = [[3, -1, 2.5f], [9, -4, 4], [0.5f, 1, 500001]];

    private string _folder = "";
    private MLContext _mlContext = null!;

    private sealed class Row
    {
        [VectorType(3)]
        public float[] Input { get; set; } = [];
    }

    [SetUp]
    public void SetUp()
    {
        _folder = Directory.CreateTempSubdirectory("fvlm-persistence-").FullName;
        _mlContext = new MLContext(seed: 1);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    [Test]
    public void SavedModelLoadsInAnotherProcessWithTheSameOutput()
    {
        string zip = SaveModel();
        float[][] inProcess = Transform(new ScaleTransformer(_mlContext, "Input", "Output", [2, -1, 0.5f], 1));

        float[][] otherProcess = ModelLoadProbe.Column(ModelLoadProbe.Run(zip, Inputs), "Output");

        Assert.That(inProcess, Is.EqualTo(Expected));
        Assert.That(otherProcess, Is.EqualTo(inProcess), "bit-identical after the round trip through the zip");
    }

    [Test]
    public void SavedModelLoadsInThisProcessAsTheSameTransformer()
    {
        ITransformer loaded = _mlContext.Model.Load(SaveModel(), out DataViewSchema inputSchema);

        Assert.That(loaded, Is.TypeOf<ScaleTransformer>());
        var scale = (ScaleTransformer)loaded;
        Assert.That(scale.Scales, Is.EqualTo(new[] { 2, -1, 0.5f }));
        Assert.That(scale.Offset, Is.EqualTo(1f));
        Assert.That(inputSchema.Single().Name, Is.EqualTo("Input"));
        Assert.That(Transform(loaded), Is.EqualTo(Expected));
    }

    [Test]
    public void TruncatedZipFailsToOpen()
    {
        string zip = SaveModel();
        byte[] bytes = File.ReadAllBytes(zip);
        File.WriteAllBytes(zip, bytes[..(bytes.Length - 30)]);

        var ex = Assert.Catch(() => _mlContext.Model.Load(zip, out _))!;

        // ML.NET's own wording; the inner exception says what is missing.
        Assert.That(ex.Message, Does.Contain("Failed to open a zip archive"));
        Assert.That(ex.InnerException, Is.InstanceOf<InvalidDataException>());
        Assert.That(ex.InnerException!.Message, Does.Contain("End of Central Directory"));
    }

    [Test]
    public void FlippedByteInAnEntryFailsAsCorrupt()
    {
        string zip = SaveModel();
        RewriteEntry(zip, ParametersEntry, bytes => bytes[20] ^= 0x01);

        InvalidDataException error = LoaderError(zip);

        Assert.That(error.Message, Does.Contain($"'{ParametersEntry}' is corrupt").And.Contain("SHA-256"));
    }

    [Test]
    public void EveryFlippedByteOfTheZipFailsOrChangesNothing()
    {
        string zip = SaveModel();
        byte[] original = File.ReadAllBytes(zip);
        int failed = 0, unchanged = 0;
        for (int position = 0; position < original.Length; position += 3)
        {
            byte[] bytes = (byte[])original.Clone();
            bytes[position] ^= 0x10;
            File.WriteAllBytes(zip, bytes);
            float[][] output;
            try
            {
                output = Transform(_mlContext.Model.Load(zip, out _));
            }
            catch (Exception)
            {
                failed++;
                continue;
            }

            Assert.That(output, Is.EqualTo(Expected), $"a flipped byte at {position} changed the output without an error");
            unchanged++;
        }

        // Flips in time stamps, Version.txt and padding change nothing; all others must fail.
        Assert.That(failed, Is.GreaterThan(0));
        Assert.That(unchanged, Is.GreaterThan(0));
    }

    [Test]
    public void EntryFromANewerVersionFailsSayingSo()
    {
        string zip = SaveModel();
        RewriteEntry(zip, ParametersEntry, bytes => BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), 2));

        InvalidDataException error = LoaderError(zip);

        Assert.That(error.Message, Does.Contain("written by a newer version of Microsoft.ML.FVlm").And.Contain("Update Microsoft.ML.FVlm"));
    }

    [Test]
    public void ComponentFromANewerVersionFailsSayingSoInAnotherProcess()
    {
        string zip = SaveModel();
        RewriteEntry(zip, ModelKeyEntry, bytes =>
        {
            // ML.NET's model header stores the 8-byte model signature, then the version written and
            // the oldest version able to read it.
            int at = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes("FVLMSCAL"));
            Assert.That(at, Is.GreaterThan(0), "model signature in Model.key");
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 8), 0x00020001);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 12), 0x00020001);
        });

        ModelLoadProbe.Result result = ModelLoadProbe.Run(zip, Inputs[0]);

        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.StandardError, Does.Contain(
            "The scale transformer in this model was written by a newer version of Microsoft.ML.FVlm (format version 0x00020001"));
        Assert.That(result.StandardError, Does.Contain("reads up to format version 0x00010001"));
    }

    private string SaveModel()
    {
        string zip = Path.Combine(_folder, "model.zip");
        var transformer = new ScaleTransformer(_mlContext, "Input", "Output", [2, -1, 0.5f], 1);
        _mlContext.Model.Save(transformer, InputData().Schema, zip);
        return zip;
    }

    private IDataView InputData() => _mlContext.Data.LoadFromEnumerable(Inputs.Select(v => new Row { Input = v }));

    private float[][] Transform(ITransformer transformer)
        => transformer.Transform(InputData()).GetColumn<float[]>("Output").ToArray();

    /// <summary>The exception thrown by the loader, which ML.NET wraps because it calls loaders by reflection.</summary>
    private InvalidDataException LoaderError(string zip)
    {
        var ex = Assert.Catch(() => _mlContext.Model.Load(zip, out _))!;
        Assert.That(ex, Is.TypeOf<TargetInvocationException>());
        Assert.That(ex.InnerException, Is.TypeOf<InvalidDataException>());
        return (InvalidDataException)ex.InnerException!;
    }

    private static void RewriteEntry(string zip, string name, Action<byte[]> change)
    {
        using ZipArchive archive = ZipFile.Open(zip, ZipArchiveMode.Update);
        ZipArchiveEntry entry = archive.GetEntry(name) ?? throw new AssertionException($"no entry {name}");
        byte[] bytes;
        using (var stream = entry.Open())
        using (var copy = new MemoryStream())
        {
            stream.CopyTo(copy);
            bytes = copy.ToArray();
        }

        change(bytes);
        entry.Delete();
        using Stream output = archive.CreateEntry(name).Open();
        output.Write(bytes);
    }
}
