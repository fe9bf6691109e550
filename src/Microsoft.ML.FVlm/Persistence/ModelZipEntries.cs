using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.FVlm.Persistence;

/// <summary>
/// Writes and reads named binary entries of a component's directory in the ML.NET model zip
/// (head weights, VLM graphs, vocabulary, options), each framed so that a truncated, corrupted or
/// newer-than-supported entry fails with an error that says which of these it is.
/// </summary>
/// <remarks>
/// Entry layout, little-endian:
/// <code>
///   header   8 bytes  "FVLMENTR"
///            uint32   frame version (1: this layout)
///            uint32   payload version (the caller's, see below)
///   payload  what the caller wrote
///   trailer  int64    payload length in bytes
///            32 bytes SHA-256 of the payload
///            8 bytes  "FVLMEND."
/// </code>
/// The payload version belongs to the caller: it bumps it whenever the payload layout changes and
/// passes the newest version it can read to <see cref="Read{T}"/>, which hands the stored version to
/// the payload reader so it can branch on older layouts. The trailer is written after the payload so
/// that the writer streams (VLM graphs are hundreds of megabytes); ML.NET hands the loader a seekable
/// stream (a temporary file or memory copy of the zip entry), so the reader verifies length and hash
/// before the payload reader sees a byte.
/// </remarks>
internal static class ModelZipEntries
{
    /// <summary>The frame version this code writes and the newest it reads.</summary>
    public const uint FrameVersion = 1;

    private const int HeaderSize = 16;
    private const int TrailerSize = 48;
    private static readonly byte[] HeaderMagic = Encoding.ASCII.GetBytes("FVLMENTR");
    private static readonly byte[] TrailerMagic = Encoding.ASCII.GetBytes("FVLMEND.");

    /// <summary>
    /// Writes entry <paramref name="name"/> in the component directory of <paramref name="ctx"/>.
    /// </summary>
    /// <param name="ctx">The save context passed to <c>ITransformer.Save</c>.</param>
    /// <param name="name">The entry's file name, e.g. "HeadWeights.bin".</param>
    /// <param name="payloadVersion">The version of the payload layout that <paramref name="writePayload"/> writes.</param>
    /// <param name="writePayload">Writes the payload; must not seek or close the writer.</param>
    public static void Write(ModelSaveContext ctx, string name, uint payloadVersion, Action<BinaryWriter> writePayload)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(writePayload);
        ctx.SaveBinaryStream(name, writer => WriteFramed(writer.BaseStream, payloadVersion, writePayload));
    }

    /// <summary>
    /// Reads entry <paramref name="name"/> from the component directory of <paramref name="ctx"/>.
    /// </summary>
    /// <param name="ctx">The load context passed to the loader's <c>Create</c>.</param>
    /// <param name="name">The entry's file name.</param>
    /// <param name="newestPayloadVersion">The newest payload version this code can read.</param>
    /// <param name="readPayload">Reads the payload given its stored version; must read it to the end.</param>
    /// <exception cref="InvalidDataException">The entry is missing, truncated, corrupt, or newer than supported.</exception>
    public static T Read<T>(ModelLoadContext ctx, string name, uint newestPayloadVersion, Func<BinaryReader, uint, T> readPayload)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(readPayload);
        string entry = EntryPath(ctx, name);
        T result = default!;
        bool found = ctx.TryLoadBinaryStream(name, reader => result = ReadFramed(reader.BaseStream, entry, newestPayloadVersion, readPayload));
        if (!found)
            throw new InvalidDataException($"The model zip has no entry '{entry}': it is truncated or was not written by this version of Microsoft.ML.FVlm.");
        return result;
    }

    /// <summary>As <see cref="Read{T}"/>, or the default when the zip has no entry <paramref name="name"/> (an entry that later versions added).</summary>
    public static T? TryRead<T>(ModelLoadContext ctx, string name, uint newestPayloadVersion, Func<BinaryReader, uint, T> readPayload) where T : class
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(readPayload);
        string entry = EntryPath(ctx, name);
        T? result = null;
        ctx.TryLoadBinaryStream(name, reader => result = ReadFramed(reader.BaseStream, entry, newestPayloadVersion, readPayload));
        return result;
    }

    /// <summary>The payload of entry <paramref name="name"/> as bytes, checked as <see cref="Read{T}"/> checks it.</summary>
    /// <exception cref="InvalidDataException">As for <see cref="Read{T}"/>, or the payload is larger than an array holds (2 GB).</exception>
    public static byte[] ReadPayload(ModelLoadContext ctx, string name, uint newestPayloadVersion) =>
        Read(ctx, name, newestPayloadVersion, (reader, _) =>
        {
            long length = reader.BaseStream.Length - reader.BaseStream.Position - TrailerSize;
            return length <= Array.MaxLength ? reader.ReadBytes((int)length)
                : throw new InvalidDataException($"The model zip entry '{EntryPath(ctx, name)}' has a payload of {length} bytes, more than this library reads as one array.");
        });

    /// <summary>The path of entry <paramref name="name"/> in the zip, as errors name it.</summary>
    public static string EntryPath(ModelLoadContext ctx, string name) => string.IsNullOrEmpty(ctx.Directory) ? name : ctx.Directory + "/" + name;

    /// <summary>Writes one framed entry to <paramref name="destination"/>; the frame layout is in the class remarks.</summary>
    internal static void WriteFramed(Stream destination, uint payloadVersion, Action<BinaryWriter> writePayload)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        HeaderMagic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], FrameVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], payloadVersion);
        destination.Write(header);

        using var hashing = new HashingWriteStream(destination);
        using (var payloadWriter = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true))
        {
            writePayload(payloadWriter);
            payloadWriter.Flush();
        }

        Span<byte> trailer = stackalloc byte[TrailerSize];
        BinaryPrimitives.WriteInt64LittleEndian(trailer, hashing.BytesWritten);
        hashing.GetHash(trailer.Slice(8, 32));
        TrailerMagic.CopyTo(trailer[40..]);
        destination.Write(trailer);
    }

    /// <summary>Reads one framed entry from <paramref name="source"/>; <paramref name="entry"/> names it in errors.</summary>
    internal static T ReadFramed<T>(Stream source, string entry, uint newestPayloadVersion, Func<BinaryReader, uint, T> readPayload)
    {
        if (!source.CanSeek)
        {
            var copy = new MemoryStream();
            source.CopyTo(copy);
            copy.Position = 0;
            source = copy;
        }

        long start = source.Position;
        long length = source.Length - start;
        if (length < HeaderSize)
            throw Truncated(entry, $"it has {length} bytes, fewer than its {HeaderSize}-byte header");

        Span<byte> header = stackalloc byte[HeaderSize];
        source.ReadExactly(header);
        if (!header[..8].SequenceEqual(HeaderMagic))
            throw new InvalidDataException($"The model zip entry '{entry}' is corrupt or was not written by Microsoft.ML.FVlm: it does not start with the entry signature.");
        uint frameVersion = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        uint payloadVersion = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (frameVersion > FrameVersion || payloadVersion > newestPayloadVersion)
        {
            throw new InvalidDataException(
                $"The model zip entry '{entry}' was written by a newer version of Microsoft.ML.FVlm (entry format {frameVersion}.{ModelComponentVersion.Format(payloadVersion)}); " +
                $"this version reads up to {FrameVersion}.{ModelComponentVersion.Format(newestPayloadVersion)}. Update Microsoft.ML.FVlm to load this model.");
        }

        if (length < HeaderSize + TrailerSize)
            throw Truncated(entry, $"it has {length} bytes, fewer than its header and trailer");

        long payloadLength = length - HeaderSize - TrailerSize;
        source.Position = start + HeaderSize + payloadLength;
        Span<byte> trailer = stackalloc byte[TrailerSize];
        source.ReadExactly(trailer);
        long storedLength = BinaryPrimitives.ReadInt64LittleEndian(trailer);
        if (!trailer[40..].SequenceEqual(TrailerMagic) || storedLength != payloadLength)
        {
            throw Truncated(entry, storedLength > payloadLength && storedLength >= 0
                ? $"its payload has {payloadLength} bytes, the trailer says {storedLength}"
                : "its trailer is missing or damaged");
        }

        source.Position = start + HeaderSize;
        Span<byte> actualHash = stackalloc byte[32];
        HashRange(source, payloadLength, actualHash);
        if (!actualHash.SequenceEqual(trailer.Slice(8, 32)))
            throw new InvalidDataException($"The model zip entry '{entry}' is corrupt: the SHA-256 of its {payloadLength}-byte payload does not match the one stored when it was saved.");

        source.Position = start + HeaderSize;
        T result;
        using (var reader = new BinaryReader(source, Encoding.UTF8, leaveOpen: true))
        {
            try
            {
                result = readPayload(reader, payloadVersion);
            }
            catch (EndOfStreamException ex)
            {
                throw new InvalidDataException($"The model zip entry '{entry}' ended before its payload was fully read (payload version {ModelComponentVersion.Format(payloadVersion)}).", ex);
            }
        }

        long consumed = source.Position - start - HeaderSize;
        if (consumed != payloadLength)
            throw new InvalidDataException($"The model zip entry '{entry}' has a {payloadLength}-byte payload but its reader consumed {consumed} bytes; the payload layout does not match payload version {ModelComponentVersion.Format(payloadVersion)}.");
        return result;
    }

    private static InvalidDataException Truncated(string entry, string detail)
        => new($"The model zip entry '{entry}' is truncated or corrupt: {detail}.");

    private static void HashRange(Stream source, long count, Span<byte> hash)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[1 << 16];
        while (count > 0)
        {
            int read = source.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (read == 0)
                throw new EndOfStreamException();
            sha.AppendData(buffer, 0, read);
            count -= read;
        }

        sha.GetHashAndReset(hash);
    }

    /// <summary>Forwards writes to a stream it does not own, hashing and counting them.</summary>
    private sealed class HashingWriteStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public long BytesWritten { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => BytesWritten; set => throw new NotSupportedException(); }

        public void GetHash(Span<byte> destination) => _sha.GetHashAndReset(destination);

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            _sha.AppendData(buffer);
            BytesWritten += buffer.Length;
        }

        public override void WriteByte(byte value) => Write([value]);
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _sha.Dispose();
            base.Dispose(disposing);
        }
    }
}
