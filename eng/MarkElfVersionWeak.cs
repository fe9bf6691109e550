// MSBuild task (compiled by RoslynCodeTaskFactory from eng/TorchSharpNativeFix.targets).
//
// TorchSharp 0.107.0's libLibTorchSharp.so records a need for GLIBCXX_3.4.32 (GCC 13's libstdc++),
// but only for one symbol it never calls (std::ios_base_library_init). Debian 12 ships GCC 12's
// libstdc++, whose newest version is GLIBCXX_3.4.30, so the dynamic loader refuses the library and
// TorchSharp reports a misleading "libtorch-cpu ... is not restored". Marking that one version
// requirement weak (vna_flags |= VER_FLG_WEAK in .gnu.version_r) lets the loader accept the library.
// The task patches copies in build and publish outputs, never the NuGet cache, and does nothing
// where the system libstdc++ already defines the version.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class MarkElfVersionWeak : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>ELF shared libraries to patch in place (missing files are skipped).</summary>
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version requirement to make weak, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string VersionName { get; set; } = "";

    /// <summary>Candidate paths of the system library that would satisfy the version.</summary>
    [Required] public ITaskItem[] SystemLibraries { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        if (SystemProvidesVersion())
        {
            Log.LogMessage(MessageImportance.Low, $"System libstdc++ defines {VersionName}; nothing to patch.");
            return true;
        }
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                int patched = Patch(path, VersionName);
                if (patched > 0)
                    Log.LogMessage(MessageImportance.Normal, $"Marked {VersionName} weak in {path}.");
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Log.LogError($"Could not patch {path} ({VersionName} -> weak): {e.Message}");
                return false;
            }
        }
        return !Log.HasLoggedErrors;
    }

    private bool SystemProvidesVersion()
    {
        byte[] needle = Encoding.ASCII.GetBytes(VersionName + "\0");
        foreach (var item in SystemLibraries)
        {
            if (File.Exists(item.ItemSpec) && Contains(File.ReadAllBytes(item.ItemSpec), needle))
                return true;
        }
        return false;
    }

    private static bool Contains(byte[] haystack, byte[] needle)
    {
        // The task is compiled against netstandard2.0 (no spans): a plain scan is fast enough for a 2 MB file.
        for (int i = Array.IndexOf(haystack, needle[0]); i >= 0 && i <= haystack.Length - needle.Length; i = Array.IndexOf(haystack, needle[0], i + 1))
        {
            int j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    /// <summary>Sets VER_FLG_WEAK on every Vernaux entry named <paramref name="versionName"/>; returns how many changed.</summary>
    private static int Patch(string path, string versionName)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF is supported");

        ulong sectionOffset = U64(elf, 0x28);
        int sectionSize = U16(elf, 0x3A), sectionCount = U16(elf, 0x3C);
        int changed = 0;
        for (int s = 0; s < sectionCount; s++)
        {
            int header = checked((int)sectionOffset + s * sectionSize);
            if (U32(elf, header + 4) != ShtGnuVerneed) continue;
            int offset = checked((int)U64(elf, header + 0x18));
            int link = (int)U32(elf, header + 0x28);
            int strings = checked((int)U64(elf, checked((int)sectionOffset + link * sectionSize) + 0x18));

            // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
            // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
            int need = offset;
            while (true)
            {
                int auxCount = U16(elf, need + 2);
                int aux = need + (int)U32(elf, need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    if (CString(elf, strings + (int)U32(elf, aux + 8)) == versionName)
                    {
                        ushort flags = U16(elf, aux + 4);
                        if ((flags & VerFlagWeak) == 0)
                        {
                            ushort weak = (ushort)(flags | VerFlagWeak);
                            elf[aux + 4] = (byte)(weak & 0xff);
                            elf[aux + 5] = (byte)(weak >> 8);
                            changed++;
                        }
                    }
                    aux += (int)U32(elf, aux + 12);
                }
                uint next = U32(elf, need + 12);
                if (next == 0) break;
                need += (int)next;
            }
        }
        if (changed > 0)
        {
            // Write beside first, so a failure while writing never leaves a half-written library. The rename
            // replaces the file instead of writing into it: an output that is a hard link into the NuGet cache
            // (CreateHardLinksForCopyLocalIfPossible) is unlinked, and the cache keeps its bytes.
            string temporary = path + ".patching";
            File.WriteAllBytes(temporary, elf);
            File.Replace(temporary, path, destinationBackupFileName: null);
        }
        return changed;
    }

    private static ushort U16(byte[] b, int i) => BitConverter.ToUInt16(b, i);
    private static uint U32(byte[] b, int i) => BitConverter.ToUInt32(b, i);
    private static ulong U64(byte[] b, int i) => BitConverter.ToUInt64(b, i);

    private static string CString(byte[] b, int start)
    {
        int end = Array.IndexOf(b, (byte)0, start);
        return Encoding.ASCII.GetString(b, start, end - start);
    }
}
