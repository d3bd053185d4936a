namespace Ott.Sync.Auth;

internal sealed class ApiOptions
{
    public const string Section = "Api";

    // The admin `apikey` (protocol §3.2). Empty means every apikey header gets `apikey is not set`.
    public string Key { get; set; } = "";
}
