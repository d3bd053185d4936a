using System.Globalization;
using System.Text.RegularExpressions;

namespace Ott.Sync.Media;

// ISO 8601 durations as YouTube (`PT1H2M3S`, `P1DT2H`, `P0D`) and DASH
// (`mediaPresentationDuration="PT0H1M30.50S"`) write them. Years and months have no fixed length;
// they count as 365 and 30 days, as OTT's parser does.
internal static partial class Iso8601Duration
{
    [GeneratedRegex(@"^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
        RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    private static readonly double[] Seconds = [365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1];

    public static bool TryParse(string? text, out double seconds)
    {
        seconds = 0;
        text = text?.Trim();
        if (text is null || text.EndsWith('T'))
        {
            return false;
        }
        var match = Pattern().Match(text);
        if (!match.Success || match.Value == "P")
        {
            return false;
        }
        var any = false;
        for (var i = 0; i < Seconds.Length; i++)
        {
            var group = match.Groups[i + 1];
            if (group.Success)
            {
                any = true;
                seconds += double.Parse(group.Value, CultureInfo.InvariantCulture) * Seconds[i];
            }
        }
        return any;
    }
}
