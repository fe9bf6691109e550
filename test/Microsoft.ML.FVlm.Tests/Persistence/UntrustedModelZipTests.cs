using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Microsoft.ML.FVlm.Inference;
using Microsoft.ML.FVlm.Modeling;
using Microsoft.ML.FVlm.Persistence;
using Microsoft.ML.FVlm.Vlm;

namespace Microsoft.ML.FVlm.Tests.Persistence;

/// <summary>
/// A model zip is untrusted input: crafted entries fail at load with an error that names the entry and
/// field, never reach a file outside the model, never echo a file that failed validation, and a load
/// runs only the graphs the zip holds, whatever happened to an earlier load's files.
/// </summary>
[NonParallelizable]
public class UntrustedModelZipTests
{
    private const string Secret = "top secret line of a file outside the model";
    private string _folder = "";
    private string _zip = "";
    private MLContext _ml = null!;

    [SetUp]
    public void SetUp()
    {
        _folder = Directory.CreateTempSubdirectory("fvlm-untrusted-").FullName;
        _zip = Path.Combine(_folder, "model.zip");
        _ml = new MLContext(seed: 1);
        using var transformer = TinyModels.Transformer();
        _ml.Model.Save(transformer, null, _zip);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    [TestCase("text_encoder", "prompt_templates_file")]
    [TestCase("tokenizer", "merges_file")]
    [TestCase("image_encoder", "file")]
    public void ManifestThatNamesAFileOutsideTheModelIsRefusedWithoutReadingIt(string section, string field)
    {
        string outside = Path.Combine(_folder, "outside.txt");
        File.WriteAllText(outside, Secret + "\n");
        foreach (string name in new[] { outside, "../outside.txt", "sub/../../outside.txt" })
        {
            RewriteVlmFiles(_zip, files => EditManifest(files, manifest => manifest[section]![field] = name));

            var messages = LoadError(_zip);

            Assert.That(messages, Does.Contain($"'{section}.{field}' must be the name of a file in the VLM folder"), name);
            Assert.That(messages, Does.Not.Contain(Secret), "an error never echoes a file that failed validation");
        }
    }

    [Test]
    public void FolderWhoseFileIsALinkOutsideItIsRefused()
    {
        string copy = CopyOfTinyVlm();
        string outside = Path.Combine(_folder, "outside.txt");
        File.WriteAllText(outside, Secret + " {}\n");
        File.Delete(Path.Combine(copy, "templates.txt"));
        File.CreateSymbolicLink(Path.Combine(copy, "templates.txt"), outside);

        var error = Assert.Throws<InvalidDataException>(() => FrozenVlm.Load(copy).Dispose());

        Assert.That(error!.Message, Does.Contain("'templates.txt' is a link to").And.Contain("outside the folder"));

        // A link to another file of the folder stays inside it.
        File.Delete(Path.Combine(copy, "templates.txt"));
        File.Copy(Path.Combine(TinyModels.VlmFolder, "templates.txt"), Path.Combine(copy, "prompts.txt"));
        File.CreateSymbolicLink(Path.Combine(copy, "templates.txt"), "prompts.txt");
        using var vlm = FrozenVlm.Load(copy);
        Assert.That(vlm.PromptTemplates, Is.EqualTo(File.ReadAllLines(Path.Combine(copy, "prompts.txt")).Where(l => l.Trim().Length > 0)));
    }

    [Test]
    public void TemplatesThatFailValidationAreNotEchoed()
    {
        RewriteVlmFiles(_zip, files =>
        {
            int i = files.FindIndex(f => f.Name == "templates.txt");
            files[i] = (files[i].Name, Encoding.UTF8.GetBytes("a photo of a {}.\n" + Secret + "\n"));
        });

        var messages = LoadError(_zip);

        Assert.That(messages, Does.Contain("template 2 has no {}"));
        Assert.That(messages, Does.Not.Contain(Secret));
    }

    [Test]
    public void EachLoadRunsItsOwnPrivateCopyOfTheZipsGraphs()
    {
        using var image = TinyModels.RandomImage(96, 96, 12);
        var first = (FVlmTransformer)_ml.Model.Load(_zip, out _);
        string firstFolder = first.Model.Vlm.Folder;
        var expected = first.Detect([image])[0];
        Assert.That(expected.Count, Is.GreaterThan(0));
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(firstFolder), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute),
                "no other user can read or change the extracted graphs");

        // Damage the first load's files: 4 KB of the image encoder overwritten, the text encoder deleted.
        using (var stream = new FileStream(Path.Combine(firstFolder, "image_encoder.onnx"), FileMode.Open, FileAccess.Write))
        {
            stream.Position = stream.Length / 2;
            stream.Write(new byte[4096]);
        }
        File.Delete(Path.Combine(firstFolder, "text_encoder.onnx"));

        using (var second = (FVlmTransformer)_ml.Model.Load(_zip, out _))
        {
            Assert.That(second.Model.Vlm.Folder, Is.Not.EqualTo(firstFolder));
            var actual = second.Detect([image])[0];
            Assert.That(actual.Scores, Is.EqualTo(expected.Scores), "the second load runs the zip's graphs, not the damaged copy");
            Assert.That(actual.Boxes, Is.EqualTo(expected.Boxes));
        }

        first.Dispose();
        Assert.That(Directory.Exists(firstFolder), Is.False, "the extracted files go with the model");
    }

    [TestCase("VlmScoredBoxes", "\"Everything\"", "VlmScoredBoxes is 'Everything'; expected Proposals or RefinedBoxes")]
    [TestCase("VlmScoredBoxes", "\"7\"", "VlmScoredBoxes is '7'; expected Proposals or RefinedBoxes")]
    [TestCase("ObjectnessWeight", "-2", "ObjectnessWeight must be from 0 (off) to 10; got -2")]
    public void InvalidFusionFailsAtLoadNamingTheEntryAndTheOption(string field, string value, string expected)
    {
        RewriteEntry(_zip, "Options.json", payload =>
        {
            var json = JsonNode.Parse(payload.AsSpan(4))!;
            json[field] = JsonNode.Parse(value);
            byte[] bytes = Encoding.UTF8.GetBytes(json.ToJsonString());
            return [.. BitConverter.GetBytes(bytes.Length), .. bytes];
        });

        var messages = LoadError(_zip);

        Assert.That(messages, Does.Contain("Options.json' holds invalid options").And.Contain(expected));
    }

    [Test]
    public void InvalidOptionsFailAtLoadNamingTheEntryAndTheOption()
    {
        RewriteEntry(_zip, "Options.json", payload =>
        {
            var json = JsonNode.Parse(payload.AsSpan(4))!;
            json["ImageSize"] = -32;
            byte[] bytes = Encoding.UTF8.GetBytes(json.ToJsonString());
            return [.. BitConverter.GetBytes(bytes.Length), .. bytes];
        });

        var messages = LoadError(_zip);

        Assert.That(messages, Does.Contain("Options.json' holds invalid options").And.Contain("ImageSize must be a multiple of 32"));
    }

    [Test]
    public void HeadWeightsOfAnotherArchitectureNameTheEntryWhenTheHeadIsMade()
    {
        using var vlm = FrozenVlm.Load(TinyModels.VlmFolder);
        using var other = DetectorFactory.Create(vlm.Manifest, TinyModels.Architecture with { HeadConvChannels = 24 });
        RewriteEntry(_zip, "Head.bin", _ =>
        {
            using var stream = new MemoryStream();
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) other.save(writer);
            return stream.ToArray();
        });

        // Detection runs on the head's graphs: the TorchSharp head is made, and its weights read, when something asks for it.
        using (var loaded = (FVlmTransformer)_ml.Model.Load(_zip, out _))
        {
            var error = Assert.Throws<InvalidDataException>(() => loaded.Model.Head.GetType())!;
            Assert.That(error.Message, Does.Contain("Head.bin' does not hold the weights of the head that").And.Contain("Options.json").And.Contain("head convolutions 16"));
        }

        // A zip without the graphs (saved before format 0x00010007) makes the head on load, and fails there.
        DeleteEntry(_zip, "HeadGraphs.bin");
        var messages = LoadError(_zip);
        Assert.That(messages, Does.Contain("Head.bin' does not hold the weights of the head that").And.Contain("Options.json"));
        Assert.That(messages, Does.Contain("head convolutions 16"));
    }

    [Test]
    public void HeadGraphsWithoutTheValuesTheDetectorReadsNameTheEntry()
    {
        RewriteEntry(_zip, "HeadGraphs.bin", payload =>
        {
            var reader = new BinaryReader(new MemoryStream(payload));
            var head = Microsoft.ML.FVlm.Onnx.Proto.ModelProto.Parser.ParseFrom(reader.ReadBytes((int)reader.ReadInt64()));
            byte[] masks = reader.ReadBytes((int)reader.ReadInt64());
            head.Graph.Output.RemoveAt(0);
            return Frame(head.ToByteArray(), masks);
        });

        var messages = LoadError(_zip);

        Assert.That(messages, Does.Contain("HeadGraphs.bin'").And.Contain("head model lacks the inputs [] and outputs [proposals]"));
    }

    [TestCase("external data")]
    [TestCase("sparse constant")]
    [TestCase("custom operator")]
    public void HeadGraphsThatCouldReadAFileOrRunForeignCodeFailAtLoad(string crafted)
    {
        RewriteEntry(_zip, "HeadGraphs.bin", payload =>
        {
            var reader = new BinaryReader(new MemoryStream(payload));
            var head = Microsoft.ML.FVlm.Onnx.Proto.ModelProto.Parser.ParseFrom(reader.ReadBytes((int)reader.ReadInt64()));
            byte[] masks = reader.ReadBytes((int)reader.ReadInt64());
            switch (crafted)
            {
                case "external data":
                    var weight = head.Graph.Initializer[0];
                    weight.RawData = Google.Protobuf.ByteString.Empty;
                    weight.DataLocation = Microsoft.ML.FVlm.Onnx.Proto.TensorProto.Types.DataLocation.External;
                    weight.ExternalData.Add(new Microsoft.ML.FVlm.Onnx.Proto.StringStringEntryProto { Key = "location", Value = "/etc/passwd" });
                    break;
                case "sparse constant":
                    // ONNX's SPARSE_TENSOR attribute (type 11), whose values could name a file.
                    head.Graph.Node.Insert(0, new Microsoft.ML.FVlm.Onnx.Proto.NodeProto
                    {
                        OpType = "Constant", Name = "crafted", Output = { "crafted_value" },
                        Attribute = { new Microsoft.ML.FVlm.Onnx.Proto.AttributeProto { Name = "sparse_value", Type = (Microsoft.ML.FVlm.Onnx.Proto.AttributeProto.Types.AttributeType)11 } },
                    });
                    break;
                default:
                    head.Graph.Node[0].Domain = "com.example.crafted";
                    break;
            }
            return Frame(head.ToByteArray(), masks);
        });

        var messages = LoadError(_zip);

        Assert.That(messages, Does.Contain("HeadGraphs.bin'").And.Contain("head model cannot be part of the detector's graph"));
        Assert.That(messages, Does.Contain(crafted switch
        {
            "external data" => "in an external file, which is not read",
            "sparse constant" => "attribute of type 11",
            _ => "operator domain 'com.example.crafted'",
        }));
    }

    private static byte[] Frame(byte[] head, byte[] masks) =>
        [.. BitConverter.GetBytes((long)head.Length), .. head, .. BitConverter.GetBytes((long)masks.Length), .. masks];

    private static void DeleteEntry(string zip, string name)
    {
        using var archive = ZipFile.Open(zip, ZipArchiveMode.Update);
        archive.Entries.Single(e => e.FullName.EndsWith("/" + name, StringComparison.Ordinal)).Delete();
    }

    private string CopyOfTinyVlm()
    {
        string copy = Path.Combine(_folder, "vlm");
        Directory.CreateDirectory(copy);
        foreach (string file in Directory.GetFiles(TinyModels.VlmFolder))
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return copy;
    }

    /// <summary>Every message of the load's exception chain, joined.</summary>
    private string LoadError(string zip)
    {
        var error = Assert.Catch(() => _ml.Model.Load(zip, out _).GetType())!;
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException) messages.Add(e.Message);
        return string.Join(" | ", messages);
    }

    private static void EditManifest(List<(string Name, byte[] Bytes)> files, Action<JsonNode> edit)
    {
        int i = files.FindIndex(f => f.Name == "manifest.json");
        var manifest = JsonNode.Parse(files[i].Bytes)!;
        edit(manifest);
        files[i] = (files[i].Name, Encoding.UTF8.GetBytes(manifest.ToJsonString()));
    }

    /// <summary>Rewrites the Vlm.bin entry (file count, then name, length and bytes per file) with a valid frame around the new payload.</summary>
    private static void RewriteVlmFiles(string zip, Action<List<(string Name, byte[] Bytes)>> change) =>
        RewriteEntry(zip, "Vlm.bin", payload =>
        {
            var reader = new BinaryReader(new MemoryStream(payload));
            var files = Enumerable.Range(0, reader.ReadInt32()).Select(_ => (reader.ReadString(), reader.ReadBytes((int)reader.ReadInt64()))).ToList();
            change(files);
            var stream = new MemoryStream();
            var writer = new BinaryWriter(stream);
            writer.Write(files.Count);
            foreach (var (name, bytes) in files)
            {
                writer.Write(name);
                writer.Write((long)bytes.Length);
                writer.Write(bytes);
            }
            return stream.ToArray();
        });

    /// <summary>Replaces the payload of the framed entry whose name ends in <paramref name="name"/>, framing the new one as the library does (a crafted, not a damaged, entry).</summary>
    internal static void RewriteEntry(string zip, string name, Func<byte[], byte[]> change)
    {
        using var archive = ZipFile.Open(zip, ZipArchiveMode.Update);
        var entry = archive.Entries.Single(e => e.FullName.EndsWith("/" + name, StringComparison.Ordinal) || e.FullName == name);
        byte[] framed;
        using (var stream = entry.Open())
        using (var copy = new MemoryStream())
        {
            stream.CopyTo(copy);
            framed = copy.ToArray();
        }
        byte[] payload = framed[16..^48];
        uint payloadVersion = BitConverter.ToUInt32(framed, 12);
        string fullName = entry.FullName;
        entry.Delete();
        using var output = archive.CreateEntry(fullName).Open();
        ModelZipEntries.WriteFramed(output, payloadVersion, writer => writer.Write(change(payload)));
    }
}
