using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

public class CudaLibraryResolverTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    /// <summary>A loader that records what was tried and loads nothing, so the real system libraries stay out.</summary>
    private static Func<string, IntPtr> RefusingLoader(List<string> tried) => path =>
    {
        tried.Add(path);
        throw new DllNotFoundException($"refused {path}");
    };

    [Fact]
    public void NvrtcOverrideToAMissingFileFailsListingIt()
    {
        var missing = _directory.Combine("nope", "libnvrtc.so.99");
        var resolver = new CudaLibraryResolver(Env((CudaLibraryResolver.NvrtcOverrideVariable, missing)));

        var error = Assert.Throws<CudaLibraryNotFoundException>(() => resolver.Load(CudaLibrary.Nvrtc));

        // An override is the only candidate: a wrong path must not silently fall back to another library.
        var attempt = Assert.Single(error.SearchedLocations);
        Assert.Contains(missing, attempt);
        Assert.Contains(CudaLibraryResolver.NvrtcOverrideVariable, error.Message);
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void DriverOverrideToAMissingFileFailsListingIt()
    {
        var missing = _directory.Combine("libcuda.so.1");
        var resolver = new CudaLibraryResolver(Env((CudaLibraryResolver.DriverOverrideVariable, missing)));

        var error = Assert.Throws<CudaLibraryNotFoundException>(() => resolver.Load(CudaLibrary.Driver));

        Assert.Contains(missing, Assert.Single(error.SearchedLocations));
        Assert.Contains(CudaLibraryResolver.DriverOverrideVariable, error.Message);
    }

    [Fact]
    public void OverrideToAnExistingFileIsLoadedFromThatPath()
    {
        var file = _directory.Combine("libnvrtc.so.42");
        File.WriteAllText(file, "");
        var tried = new List<string>();
        var resolver = new CudaLibraryResolver(Env((CudaLibraryResolver.NvrtcOverrideVariable, file)),
                                               path => { tried.Add(path); return 1234; });

        var loaded = resolver.Load(CudaLibrary.Nvrtc);

        Assert.Equal(file, loaded.Location);
        Assert.Equal(1234, loaded.Handle);
        Assert.Equal([file], tried);
    }

    [Fact]
    public void FailedSearchListsEveryPlaceInOrder()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("The search paths under test are Linux's.");
        var cudaHome = _directory.Combine("cuda");
        Directory.CreateDirectory(Path.Combine(cudaHome, "lib64"));
        File.WriteAllText(Path.Combine(cudaHome, "lib64", "libnvrtc.so.12"), "");
        File.WriteAllText(Path.Combine(cudaHome, "lib64", "libnvrtc.so.13"), "");
        File.WriteAllText(Path.Combine(cudaHome, "lib64", "libnvrtc-builtins.so.13"), "");
        var tried = new List<string>();
        var resolver = new CudaLibraryResolver(Env(("CUDA_HOME", cudaHome), ("HOME", _directory.Path)), RefusingLoader(tried));

        var error = Assert.Throws<CudaLibraryNotFoundException>(() => resolver.Load(CudaLibrary.Nvrtc));
        var attempts = error.SearchedLocations;

        // CUDA_HOME first, newest version first, the builtins library never.
        Assert.Equal(Path.Combine(cudaHome, "lib64", "libnvrtc.so.13"), tried[0]);
        Assert.Equal(Path.Combine(cudaHome, "lib64", "libnvrtc.so.12"), tried[1]);
        Assert.DoesNotContain(tried, t => t.Contains("builtins", StringComparison.Ordinal));
        int IndexOf(string text) => attempts.ToList().FindIndex(a => a.Contains(text, StringComparison.Ordinal));
        Assert.True(IndexOf("refused " + Path.Combine(cudaHome, "lib64", "libnvrtc.so.13")) >= 0, error.Message);
        Assert.True(IndexOf(Path.Combine(cudaHome, "targets/x86_64-linux/lib")) > 0, error.Message);
        Assert.True(IndexOf("/usr/local/cuda/lib64") > IndexOf(Path.Combine(cudaHome, "lib64")), error.Message);
        Assert.True(IndexOf("libnvrtc.so.13 (system loader)") > IndexOf("/usr/local/cuda/lib64"), error.Message);
        Assert.True(IndexOf("libnvrtc.so.11.2 (system loader)") > IndexOf("libnvrtc.so.12 (system loader)"), error.Message);
        Assert.True(IndexOf("/usr/lib/x86_64-linux-gnu/libnvrtc.so") > IndexOf("libnvrtc.so (system loader)"), error.Message);
        Assert.True(IndexOf("/opt/torch/.venv/lib/python3.12/site-packages/nvidia") > IndexOf("/usr/lib/x86_64-linux-gnu"), error.Message);
        Assert.Contains(CudaLibraryResolver.NvrtcOverrideVariable, error.Message);   // tells how to fix it
    }

    [Fact]
    public void PythonWheelNvrtcIsFound()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("The search paths under test are Linux's.");
        var venv = _directory.Combine("venv");
        var lib = Path.Combine(venv, "lib", "python3.12", "site-packages", "nvidia", "cu13", "lib");
        Directory.CreateDirectory(lib);
        var nvrtc = Path.Combine(lib, "libnvrtc.so.13");
        File.WriteAllText(nvrtc, "");
        // Everything but the wheel's file is refused, so the search must reach the wheel.
        var resolver = new CudaLibraryResolver(Env(("VIRTUAL_ENV", venv), ("HOME", _directory.Path)),
            path => path == nvrtc ? 99 : throw new DllNotFoundException("refused"));

        var loaded = resolver.Load(CudaLibrary.Nvrtc);

        Assert.Equal(nvrtc, loaded.Location);
    }

    [Fact]
    public void PredictNamesTheFileLoadWouldLoadWithoutLoadingIt()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("The search paths under test are Linux's.");
        var cudaHome = _directory.Combine("cuda");
        Directory.CreateDirectory(Path.Combine(cudaHome, "lib64"));
        File.WriteAllText(Path.Combine(cudaHome, "lib64", "libnvrtc.so.12"), "");
        File.WriteAllText(Path.Combine(cudaHome, "lib64", "libnvrtc.so.13"), "");
        var tried = new List<string>();
        var resolver = new CudaLibraryResolver(Env(("CUDA_HOME", cudaHome), ("HOME", _directory.Path)), RefusingLoader(tried));

        Assert.Equal(Path.Combine(cudaHome, "lib64", "libnvrtc.so.13"), resolver.Predict(CudaLibrary.Nvrtc));
        Assert.Empty(tried);
    }

    [Fact]
    public void KnownSonamesComeBeforeTheDirectoryListing()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("The search paths under test are Linux's.");
        // A toolkit's lib64: the soname link and the fully versioned file it points to (here plain files).
        var withSoname = _directory.Combine("cuda", "lib64");
        Directory.CreateDirectory(withSoname);
        File.WriteAllText(Path.Combine(withSoname, "libnvrtc.so.13"), "");
        File.WriteAllText(Path.Combine(withSoname, "libnvrtc.so.13.0.88"), "");
        var tried = new List<string>();
        var resolver = new CudaLibraryResolver(Env(("CUDA_HOME", _directory.Combine("cuda")), ("HOME", _directory.Path)), RefusingLoader(tried));

        // The soname is taken without listing the directory; Load tries it first, then the rest of the listing.
        Assert.Equal(Path.Combine(withSoname, "libnvrtc.so.13"), resolver.Predict(CudaLibrary.Nvrtc));
        Assert.Throws<CudaLibraryNotFoundException>(() => resolver.Load(CudaLibrary.Nvrtc));
        Assert.Equal([Path.Combine(withSoname, "libnvrtc.so.13"), Path.Combine(withSoname, "libnvrtc.so.13.0.88")], tried.Take(2));

        // Without a known soname the listing decides, the highest version first.
        var withoutSoname = _directory.Combine("other", "lib64");
        Directory.CreateDirectory(withoutSoname);
        File.WriteAllText(Path.Combine(withoutSoname, "libnvrtc.so.12.8.93"), "");
        File.WriteAllText(Path.Combine(withoutSoname, "libnvrtc.so.13.0.88"), "");
        var listing = new CudaLibraryResolver(Env(("CUDA_HOME", _directory.Combine("other")), ("HOME", _directory.Path)), RefusingLoader([]));
        Assert.Equal(Path.Combine(withoutSoname, "libnvrtc.so.13.0.88"), listing.Predict(CudaLibrary.Nvrtc));
    }

    [Fact]
    public void PredictFollowsTheOverride()
    {
        var file = _directory.Combine("libnvrtc.so.42");
        File.WriteAllText(file, "");
        var tried = new List<string>();

        var present = new CudaLibraryResolver(Env((CudaLibraryResolver.NvrtcOverrideVariable, file)), RefusingLoader(tried));
        var absent = new CudaLibraryResolver(Env((CudaLibraryResolver.NvrtcOverrideVariable, file + ".missing")), RefusingLoader(tried));

        Assert.Equal(file, present.Predict(CudaLibrary.Nvrtc));
        Assert.Null(absent.Predict(CudaLibrary.Nvrtc));
        Assert.Empty(tried);
    }

    [Fact]
    public void PredictGivesUpAtTheFirstSonameStep()
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("The search paths under test are Linux's.");
        if (Directory.Exists("/usr/local/cuda") || Directory.GetDirectories("/usr/local", "cuda-*").Length > 0)
            Assert.Skip("A CUDA toolkit in /usr/local comes before the soname steps here.");
        var tried = new List<string>();
        var resolver = new CudaLibraryResolver(Env(("CUDA_HOME", _directory.Combine("no-cuda")), ("HOME", _directory.Path)), RefusingLoader(tried));

        // libnvrtc.so.13 etc. are resolved by the system loader (LD_LIBRARY_PATH, ld.so.cache): only loading can
        // tell which file that is, even where a versioned file exists in a later scanned directory.
        Assert.Null(resolver.Predict(CudaLibrary.Nvrtc));
        Assert.Empty(tried);
    }

    [Fact]
    public void DriverStubsAreNeverCandidates()
    {
        var resolver = new CudaLibraryResolver(Env(("CUDA_HOME", "/usr/local/cuda")));
        Assert.DoesNotContain(resolver.Candidates(CudaLibrary.Driver), c => c.Location.Contains("stubs", StringComparison.Ordinal));
    }
}
