using System;

namespace MoeOpGen.Bench;

/// <summary>Measures one row (median time, then peak memory), records it in the report and prints it. A failing
/// row (out of memory, a compile error, a path not available yet) is reported in the row, never fatal.</summary>
internal sealed class RowRunner(BenchDevice device, StepTimer timer, double copyGbps, BenchReport report)
{
    public void Measure(BenchRow row, Action step, Action? reset)
    {
        try
        {
            row.SetTime(timer.MedianMicroseconds(step, reset), copyGbps);
            row.PeakMemBytes = PeakMemory.Measure(device, step, reset);
            Engines.BackwardFailures.ThrowIfAny();   // a failure inside backward is recorded there, not thrown
        }
        catch (NotSupportedException ex)
        {
            row.Error = NotAvailablePrefix + FirstLine(ex.Message);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            row.Error = $"{ex.GetType().Name}: {FirstLine(ex.Message)}";
        }
        Add(row);
    }

    /// <summary>Records a row that cannot be measured at all, e.g. because its setup threw NotSupportedException.</summary>
    public void NotAvailable(BenchRow row, string reason)
    {
        row.Error = NotAvailablePrefix + FirstLine(reason);
        Add(row);
    }

    public const string NotAvailablePrefix = "not available: ";

    private void Add(BenchRow row)
    {
        report.Results.Add(row);
        ConsoleTable.Print(row);
    }

    private static string FirstLine(string message)
    {
        string line = message.Split('\n')[0].Trim();
        return line.Length > 500 ? line[..500] : line;
    }
}
