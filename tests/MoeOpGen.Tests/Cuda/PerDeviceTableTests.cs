using System;
using System.Linq;
using System.Threading.Tasks;
using MoeOpGen.Cuda;
using Xunit;

namespace MoeOpGen.Tests.Cuda;

/// <summary>The registry's kernel table: values by (device, name), first stored value wins, ordinals checked.</summary>
public class PerDeviceTableTests
{
    [Fact]
    public void ValuesAreKeptPerDeviceAndName()
    {
        var table = new PerDeviceTable<string>(2);
        Assert.Equal("a0", table.GetOrAdd(0, "a", "a0"));
        Assert.Equal("a1", table.GetOrAdd(1, "a", "a1"));
        Assert.True(table.TryGetValue(0, "a", out var onZero));
        Assert.True(table.TryGetValue(1, "a", out var onOne));
        Assert.Equal(("a0", "a1"), (onZero, onOne));
        Assert.False(table.TryGetValue(0, "b", out _));
        Assert.False(table.TryGetValue(0, "A", out _));   // names compare ordinally
    }

    [Fact]
    public void TheFirstStoredValueWinsARace()
    {
        var table = new PerDeviceTable<string>(1);
        var results = Enumerable.Range(0, 64).AsParallel().Select(i => table.GetOrAdd(0, "k", "v" + i)).ToArray();
        Assert.Single(results.Distinct());
        Assert.True(table.TryGetValue(0, "k", out var stored));
        Assert.Equal(results[0], stored);
    }

    [Fact]
    public void AnOrdinalOutOfRangeIsAMissOnLookupAndAnErrorOnStore()
    {
        var table = new PerDeviceTable<string>(1);
        Assert.False(table.TryGetValue(1, "k", out _));
        Assert.False(table.TryGetValue(-1, "k", out _));
        Assert.Equal("device", Assert.Throws<ArgumentOutOfRangeException>(() => table.GetOrAdd(1, "k", "v")).ParamName);
        Assert.Equal("device", Assert.Throws<ArgumentOutOfRangeException>(() => table.GetOrAdd(-1, "k", "v")).ParamName);
        Assert.Equal("deviceCount", Assert.Throws<ArgumentOutOfRangeException>(() => new PerDeviceTable<string>(-1)).ParamName);
        Assert.Equal(0, new PerDeviceTable<string>(0).DeviceCount);
    }
}
