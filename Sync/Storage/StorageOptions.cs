using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Storage;

internal sealed class StorageOptions
{
    public const string SectionName = "Storage";

    // SCAN MATCH patterns are built from the prefix, so it may hold no braces, '|' or glob characters.
    [RegularExpression("^[A-Za-z0-9:._-]*$")]
    public string KeyPrefix { get; set; } = "ott:";

    // Embedded only; relative to the content root.
    [Required]
    public string DataDir { get; set; } = "./data";

    // Garnet size syntax (--memory / --index), e.g. 256m.
    [Required]
    [RegularExpression("^[0-9]+[kKmMgG]?$")]
    public string EmbeddedMemory { get; set; } = "256m";

    [Required]
    [RegularExpression("^[0-9]+[kKmMgG]?$")]
    public string EmbeddedIndex { get; set; } = "16m";

    // Garnet's --checkpoint-freq is in whole seconds.
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);
}

[OptionsValidator]
internal sealed partial class StorageOptionsValidator : IValidateOptions<StorageOptions>;
