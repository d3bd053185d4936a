namespace Ott.Tests.Infrastructure;

/// <summary>Rooms with no users unload after 1 s, checked every 100 ms.</summary>
public sealed class QuickUnloadApplication : OttApplication
{
    public QuickUnloadApplication()
    {
        Settings["Rooms:UnloadAfter"] = "00:00:01";
        Settings["Rooms:TickInterval"] = "00:00:00.100";
    }
}
