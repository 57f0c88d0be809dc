using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>
/// Kernel cache faults beyond KernelCacheTests' damaged entries (issue 7): two processes of eight threads racing
/// on one key, a full disk, an entry path that is a directory, leftovers of a crashed writer, a directory removed
/// under the cache. No crash, one compilation per key per process, never a torn entry, always the right image.
/// The second process is this test program itself (<see cref="ChildProcess"/>), on the CPU with the fake compiler.
/// </summary>
public sealed class KernelCacheFaultTests : IDisposable
{
    private const string Arch = "sm_90";
    private const int Threads = 8;

    // What a child run needs, passed through its environment.
    private const string ChildModeVariable = "MOEOPGEN_CACHE_CHILD_MODE";
    private const string ChildDirectoryVariable = "MOEOPGEN_CACHE_CHILD_DIR";
    private const string ChildStartVariable = "MOEOPGEN_CACHE_CHILD_START";
    private const string ChildReportVariable = "MOEOPGEN_CACHE_CHILD_REPORT";

    /// <summary>The child's entry point, run by the parent tests; skipped in a normal run.</summary>
    private const string ChildMethod = "MoeOpGen.Tests.Cuda.KernelCacheFaultTests.Child_process_entry";

    /// <summary>Big enough (~12 KB entry) that a 1 KiB file-size limit fails the write part-way.</summary>
    private static readonly CudaSource Source = new("race", "extern \"C\" __global__ void race(float* x) { x[0] += 1.f; }\n" + new string('/', 12_000));

    private static readonly TimeSpan ChildTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Two_processes_of_eight_threads_compile_one_key_once_each_and_never_expose_a_torn_entry()
    {
        string start = _directory.Combine("start"), ready = _directory.Combine("ready"), report = _directory.Combine("child-report");
        string cacheDirectory = _directory.Combine("cache");
        var child = ChildProcess.Start(ChildMethod, new Dictionary<string, string>
        {
            [ChildModeVariable] = "race", [ChildDirectoryVariable] = cacheDirectory,
            [ChildStartVariable] = start, [ChildReportVariable] = report,
        });

        // A reader that keeps opening the entry while both processes write it: every file it sees must be whole.
        var cache = NewCache(cacheDirectory, new FakeKernelCompiler(delay: TimeSpan.FromMilliseconds(300)), out var warnings);
        string entry = cache.Disk.PathFor(cache.KeyFor(Source, Arch))!;
        int reads = 0;
        var torn = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var watcher = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var bytes = File.ReadAllBytes(entry);
                    Interlocked.Increment(ref reads);
                    if (KernelCacheEntry.TryParse(cache.KeyFor(Source, Arch), bytes, out var rejection) is null) torn.Add(rejection!);
                }
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { }
            }
        });
        watcher.Start();

        WaitForFile(ready + ".child", child);                // the child is up and waiting
        File.WriteAllText(start, "go");
        var parentImages = Race(cache, start);
        int exitCode = ChildProcess.WaitForExit(child, ChildTimeout, out string childOutput);
        Thread.Sleep(50);
        stop.Cancel();
        watcher.Join();

        Assert.True(exitCode == 0, $"child exited with {exitCode}:\n{childOutput}");
        var childReport = ChildProcess.ReadReport(report);
        Assert.Equal(1, ((FakeKernelCompiler)cache.Compiler).CompileCount);
        Assert.Equal("1", childReport["compiles"]);
        string expected = Hash(FakeKernelCompiler.ImageFor(Source.Code, Arch, Source.Options));
        Assert.All(parentImages, image => Assert.Equal(expected, image));
        Assert.Equal(expected, childReport["image"]);
        Assert.Equal(Threads.ToString(), childReport["results"]);
        Assert.Empty(torn);
        Assert.True(reads > 0, "the watcher never saw the entry");
        Assert.NotNull(KernelCacheEntry.TryParse(cache.KeyFor(Source, Arch), File.ReadAllBytes(entry), out _));
        Assert.Empty(Directory.GetFiles(cacheDirectory, "*.tmp"));
        Assert.Empty(warnings);
    }

    /// <summary>
    /// A full disk, simulated with a file-size limit (<c>ulimit -f 1</c>, 1 KiB) on the child process: the kernel
    /// then fails the cache's write part-way with EFBIG, as it fails it with ENOSPC on a full disk, leaving a
    /// partial temporary file. Chosen over an injected file-system seam because it exercises the real write and
    /// cleanup path without a test-only abstraction in the runtime; a tiny tmpfs would need root and a mount.
    /// </summary>
    [Fact]
    public void A_full_disk_keeps_kernels_in_memory_with_one_warning_and_leaves_no_partial_file()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() && File.Exists("/bin/bash"), "The file-size limit needs Linux and bash.");
        string report = _directory.Combine("child-report"), cacheDirectory = _directory.Combine("cache");
        var child = ChildProcess.Start(ChildMethod, new Dictionary<string, string>
        {
            [ChildModeVariable] = "full-disk", [ChildDirectoryVariable] = cacheDirectory, [ChildReportVariable] = report,
            // W^X maps JIT code through a memfd the size of the code heap, which the limit would refuse at start-up.
            ["DOTNET_EnableWriteXorExecute"] = "0",
        }, shellPrefix: "ulimit -f 1 && trap '' XFSZ");

        int exitCode = ChildProcess.WaitForExit(child, ChildTimeout, out string childOutput);

        Assert.True(exitCode == 0, $"child exited with {exitCode} (153 = killed by SIGXFSZ):\n{childOutput}");
        var childReport = ChildProcess.ReadReport(report);
        Assert.Equal("2", childReport["compiles"]);                  // two keys, each compiled once
        Assert.Equal("ok", childReport["images"]);
        Assert.Equal("1", childReport["warnings"]);
        Assert.Contains("too large", childReport["warning"]);   // .NET reports EFBIG as ArgumentOutOfRangeException
        Assert.Equal("False", childReport["writable"]);
        Assert.Equal("0", childReport["files"]);                      // no entry, no partial temporary file
        // A later process without the limit compiles and stores normally.
        var compiler = new FakeKernelCompiler();
        var cache = NewCache(cacheDirectory, compiler, out var warnings);
        Assert.Equal(FakeKernelCompiler.ImageFor(Source.Code, Arch, Source.Options), cache.GetOrCompile(Source, Arch).Image);
        Assert.Equal(1, compiler.CompileCount);
        Assert.Empty(warnings);
        Assert.Single(Directory.GetFiles(cacheDirectory, "*.kernel"));
    }

    /// <summary>What a child process does, by <see cref="ChildModeVariable"/>; not a test of its own.</summary>
    [Fact]
    public void Child_process_entry()
    {
        string? mode = Environment.GetEnvironmentVariable(ChildModeVariable);
        Assert.SkipWhen(mode is null, "Runs only as the child process of the cross-process cache tests.");
        string directory = Environment.GetEnvironmentVariable(ChildDirectoryVariable)!;
        string report = Environment.GetEnvironmentVariable(ChildReportVariable)!;
        var lines = new List<string>();
        if (mode == "race")
        {
            string start = Environment.GetEnvironmentVariable(ChildStartVariable)!;
            var compiler = new FakeKernelCompiler(delay: TimeSpan.FromMilliseconds(300));
            var cache = NewCache(directory, compiler, out _);
            File.WriteAllText(Path.Combine(Path.GetDirectoryName(start)!, "ready.child"), "");
            var images = Race(cache, start);
            lines.Add($"compiles={compiler.CompileCount}");
            lines.Add($"results={images.Count}");
            lines.Add($"image={images.Distinct().Single()}");
        }
        else if (mode == "full-disk")
        {
            var compiler = new FakeKernelCompiler();
            var cache = NewCache(directory, compiler, out var warnings);
            var other = Source with { Code = Source.Code + "// other" };
            bool images = cache.GetOrCompile(Source, Arch).Image.SequenceEqual(FakeKernelCompiler.ImageFor(Source.Code, Arch, Source.Options))
                && cache.GetOrCompile(other, Arch).Image.SequenceEqual(FakeKernelCompiler.ImageFor(other.Code, Arch, other.Options))
                && cache.GetOrCompile(Source, Arch).Image.Length > 0;
            lines.Add($"compiles={compiler.CompileCount}");
            lines.Add($"images={(images ? "ok" : "wrong")}");
            lines.Add($"warnings={warnings.Count}");
            lines.Add($"warning={warnings.FirstOrDefault()?.Replace('\n', ' ')[..Math.Min(warnings.FirstOrDefault()?.Length ?? 0, 300)]}");
            lines.Add($"writable={cache.Disk.IsWritable}");
            lines.Add($"files={(Directory.Exists(directory) ? Directory.GetFiles(directory).Length : 0)}");
        }
        // The report is tiny, so it fits under the child's 1 KiB file-size limit.
        File.WriteAllLines(report, lines);
    }

    [Fact]
    public void An_entry_path_that_is_a_directory_is_compiled_around_with_one_warning()
    {
        var compiler = new FakeKernelCompiler();
        var cache = NewCache(_directory.Path, compiler, out var warnings);
        Directory.CreateDirectory(cache.Disk.PathFor(cache.KeyFor(Source, Arch))!);

        var first = cache.GetOrCompile(Source, Arch);
        var second = NewCache(_directory.Path, new FakeKernelCompiler(), out _).GetOrCompile(Source, Arch);

        Assert.Equal(FakeKernelCompiler.ImageFor(Source.Code, Arch, Source.Options), first.Image);
        Assert.Equal(first.Image, second.Image);
        Assert.Equal(1, compiler.CompileCount);
        Assert.Single(warnings);                                       // the rename onto a directory failed once
        Assert.Empty(Directory.GetFiles(_directory.Path, "*.tmp"));
    }

    [Fact]
    public void Leftover_temporary_files_of_a_crashed_writer_are_never_read()
    {
        var cache = NewCache(_directory.Path, new FakeKernelCompiler(), out var warnings);
        string key = cache.KeyFor(Source, Arch);
        // What a process killed mid-write leaves: a partial temporary file next to where the entry would be.
        File.WriteAllBytes(Path.Combine(_directory.Path, $"{key}.12345.{Guid.NewGuid():N}.tmp"), [0x4d, 0x4f, 0x45]);

        var kernel = cache.GetOrCompile(Source, Arch);

        Assert.Equal(FakeKernelCompiler.ImageFor(Source.Code, Arch, Source.Options), kernel.Image);
        Assert.NotNull(KernelCacheEntry.TryParse(key, File.ReadAllBytes(cache.Disk.PathFor(key)!), out _));
        Assert.Empty(warnings);
    }

    [Fact]
    public void A_cache_directory_removed_while_in_use_is_created_again()
    {
        string directory = _directory.Combine("removed");
        var compiler = new FakeKernelCompiler();
        var cache = NewCache(directory, compiler, out var warnings);
        cache.GetOrCompile(Source, Arch);
        Directory.Delete(directory, recursive: true);

        var other = Source with { Code = Source.Code + "// other" };
        cache.GetOrCompile(other, Arch);

        Assert.Equal(2, compiler.CompileCount);
        Assert.True(File.Exists(cache.Disk.PathFor(cache.KeyFor(other, Arch))));
        Assert.Empty(warnings);
    }

    [Fact]
    public void A_cache_directory_name_the_file_system_rejects_means_memory_only_with_one_warning()
    {
        var compiler = new FakeKernelCompiler();
        var cache = NewCache("bad\0name", compiler, out var warnings);

        var kernel = cache.GetOrCompile(Source, Arch);
        cache.GetOrCompile(Source, Arch);

        Assert.Equal(FakeKernelCompiler.ImageFor(Source.Code, Arch, Source.Options), kernel.Image);
        Assert.Equal(1, compiler.CompileCount);
        Assert.False(cache.Disk.IsWritable);
        Assert.Contains(KernelDiskCache.DirectoryVariable, Assert.Single(warnings));
    }

    /// <summary>Eight threads ask for the key at once (after <paramref name="start"/> appears); their image hashes.</summary>
    private static List<string> Race(KernelCache cache, string start)
    {
        WaitForFile(start, child: null);
        using var barrier = new Barrier(Threads);
        var images = new ConcurrentBag<string>();
        var workers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            barrier.SignalAndWait();
            images.Add(Hash(cache.GetOrCompile(Source, Arch).Image));
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        return [.. images];
    }

    private static void WaitForFile(string path, Process? child)
    {
        var clock = Stopwatch.StartNew();
        while (!File.Exists(path))
        {
            if (child is { HasExited: true }) throw new InvalidOperationException($"The child exited with {child.ExitCode} before {path} appeared.");
            if (clock.Elapsed > ChildTimeout) throw new TimeoutException($"{path} did not appear.");
            Thread.Sleep(5);
        }
    }

    private static KernelCache NewCache(string directory, FakeKernelCompiler compiler, out List<string> warnings)
    {
        var list = new List<string>();
        warnings = list;
        return new KernelCache(compiler, new KernelDiskCache(directory, message => { lock (list) list.Add(message); }));
    }

    private static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));
}
