using System.Text;
using Microsoft.ML.FVlm.Onnx;

namespace Microsoft.ML.FVlm.Tests.Onnx;

/// <summary>The .npy files the exported graph's vocabulary is written as: NumPy's version 1.0 layout, read back; other arrays refused by name.</summary>
public class NpyFileTests
{
    [Test]
    public void AWrittenArrayHasNumPysHeaderAndReadsBack()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fvlm-npy-{Guid.NewGuid():N}.npy");
        try
        {
            float[] values = [1.5f, -2, 0.25f, 3, 4, 5];
            NpyFile.Write(path, values, 2, 3);
            byte[] bytes = File.ReadAllBytes(path);
            int headerLength = bytes[8] | bytes[9] << 8;
            string header = Encoding.ASCII.GetString(bytes, 10, headerLength);

            Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }));
            Assert.That((10 + headerLength) % 64, Is.EqualTo(0), "values start on a 64-byte boundary");
            Assert.That(header, Does.StartWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }").And.EndWith("\n"));
            Assert.That(bytes.Length, Is.EqualTo(10 + headerLength + values.Length * 4));
            var (read, shape) = NpyFile.Read(path);
            Assert.That(read, Is.EqualTo(values));
            Assert.That(shape, Is.EqualTo(new long[] { 2, 3 }));

            NpyFile.Write(path, [7f, 8f], 2);
            Assert.That(Encoding.ASCII.GetString(File.ReadAllBytes(path), 10, 60), Does.Contain("'shape': (2,), }"), "a one-dimensional shape is written as Python writes a 1-tuple");
            Assert.That(NpyFile.Read(path).Shape, Is.EqualTo(new long[] { 2 }));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void AnotherTypeOrLayoutIsRefusedNamingTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fvlm-npy-{Guid.NewGuid():N}.npy");
        try
        {
            NpyFile.Write(path, [1f, 2f], 2);
            byte[] bytes = File.ReadAllBytes(path);
            var doubles = bytes.ToArray();
            doubles[doubles.AsSpan().IndexOf("'<f4'"u8) + 3] = (byte)'8';
            File.WriteAllBytes(path, doubles);
            Assert.That(() => NpyFile.Read(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("'<f8'"));
            File.WriteAllBytes(path, bytes[..^4]);
            Assert.That(() => NpyFile.Read(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("needs 8 bytes"));
            File.WriteAllText(path, "not numpy");
            Assert.That(() => NpyFile.Read(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("not a NumPy .npy file"));
            Assert.That(() => NpyFile.Write(path, [1f, 2f, 3f], 2, 2), Throws.ArgumentException.With.Message.Contains("3 values"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
