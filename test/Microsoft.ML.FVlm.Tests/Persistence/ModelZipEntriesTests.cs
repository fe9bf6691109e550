using Microsoft.ML.FVlm.Persistence;

namespace Microsoft.ML.FVlm.Tests.Persistence;

/// <summary>The entry frame of ModelZipEntries, on memory streams.</summary>
public class ModelZipEntriesTests
{
    private const string Entry = "Dir/Weights.bin";

    [Test]
    public void FrameIsHeaderPayloadTrailerAndReadsBack()
    {
        byte[] bytes = Write(payloadVersion: 3, w => { w.Write(7); w.Write(-1.5f); });

        // 16-byte header, 8-byte payload, 48-byte trailer.
        Assert.That(bytes, Has.Length.EqualTo(16 + 8 + 48));
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 0, 8), Is.EqualTo("FVLMENTR"));
        Assert.That(BitConverter.ToInt64(bytes, 24), Is.EqualTo(8), "payload length in the trailer");
        var (number, value, version) = Read(bytes, newest: 3, (r, v) => (r.ReadInt32(), r.ReadSingle(), v));
        Assert.That((number, value, version), Is.EqualTo((7, -1.5f, 3u)));
    }

    [Test]
    public void OlderPayloadVersionIsHandedToTheReader()
    {
        byte[] bytes = Write(payloadVersion: 1, w => w.Write((short)5));

        uint seen = Read(bytes, newest: 4, (r, v) => { r.ReadInt16(); return v; });

        Assert.That(seen, Is.EqualTo(1u));
    }

    [Test]
    public void TruncatedEntryFails()
    {
        byte[] bytes = Write(1, w => w.Write(new byte[100]));

        var ex = Assert.Throws<InvalidDataException>(() => Read(bytes[..^10], 1, (r, v) => r.ReadBytes(100)))!;

        Assert.That(ex.Message, Does.Contain($"'{Entry}' is truncated or corrupt"));
    }

    [Test]
    public void EntryShorterThanItsHeaderFails()
    {
        var ex = Assert.Throws<InvalidDataException>(() => Read(new byte[5], 1, (r, v) => 0))!;

        Assert.That(ex.Message, Does.Contain("has 5 bytes, fewer than its 16-byte header"));
    }

    [Test]
    public void FlippedPayloadByteFails()
    {
        byte[] bytes = Write(1, w => w.Write(new byte[100]));
        bytes[16 + 42] ^= 0x80;

        var ex = Assert.Throws<InvalidDataException>(() => Read(bytes, 1, (r, v) => r.ReadBytes(100)))!;

        Assert.That(ex.Message, Does.Contain($"'{Entry}' is corrupt: the SHA-256 of its 100-byte payload"));
    }

    [Test]
    public void ForeignBytesFail()
    {
        byte[] bytes = Write(1, w => w.Write(1));
        bytes[0] = (byte)'X';

        var ex = Assert.Throws<InvalidDataException>(() => Read(bytes, 1, (r, v) => r.ReadInt32()))!;

        Assert.That(ex.Message, Does.Contain("does not start with the entry signature"));
    }

    [Test]
    public void NewerPayloadVersionFailsSayingSo()
    {
        byte[] bytes = Write(payloadVersion: 0x00010002, w => w.Write(1));

        var ex = Assert.Throws<InvalidDataException>(() => Read(bytes, newest: 0x00010001, (r, v) => r.ReadInt32()))!;

        Assert.That(ex.Message, Is.EqualTo(
            $"The model zip entry '{Entry}' was written by a newer version of Microsoft.ML.FVlm (entry format 1.0x00010002); " +
            "this version reads up to 1.0x00010001. Update Microsoft.ML.FVlm to load this model."));
    }

    [Test]
    public void ReaderThatLeavesBytesUnreadFails()
    {
        byte[] bytes = Write(1, w => { w.Write(1); w.Write(2); });

        var ex = Assert.Throws<InvalidDataException>(() => Read(bytes, 1, (r, v) => r.ReadInt32()))!;

        Assert.That(ex.Message, Does.Contain("has a 8-byte payload but its reader consumed 4 bytes"));
    }

    [Test]
    public void ReaderThatRunsPastThePayloadFails()
    {
        byte[] bytes = Write(1, w => w.Write(1));

        var ex = Assert.Throws<InvalidDataException>(() => Read(bytes, 1, (r, v) => r.ReadInt64()))!;

        Assert.That(ex.Message, Does.Contain("consumed 8 bytes").Or.Contain("ended before its payload was fully read"));
    }

    private static byte[] Write(uint payloadVersion, Action<BinaryWriter> payload)
    {
        var stream = new MemoryStream();
        ModelZipEntries.WriteFramed(stream, payloadVersion, payload);
        return stream.ToArray();
    }

    private static T Read<T>(byte[] bytes, uint newest, Func<BinaryReader, uint, T> payload)
        => ModelZipEntries.ReadFramed(new MemoryStream(bytes), Entry, newest, payload);
}
