using System;
using System.IO;

namespace MoeOpGen.Bench;

/// <summary>
/// This process's major page faults so far: pages the kernel had to read from storage, such as the code of a
/// shared library touched for the first time on a machine whose page cache does not hold it yet. A phase that is
/// slow in one process and fast in the next with many major faults is paying for disk I/O, not for its own work.
/// </summary>
internal static class PageFaults
{
    /// <summary>The count from <c>/proc/self/stat</c> (field 12, majflt), or -1 where there is no procfs.</summary>
    public static long Major()
    {
        try
        {
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields count from the last ')'.
            string stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[12 - 3], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return -1;
        }
    }
}
