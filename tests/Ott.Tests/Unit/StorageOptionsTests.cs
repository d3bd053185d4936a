using Microsoft.Extensions.Options;
using Ott.Sync.Storage;

namespace Ott.Tests.Unit;

public sealed class StorageOptionsTests
{
    private static ValidateOptionsResult Validate(StorageOptions options) => new StorageOptionsValidator().Validate(null, options);

    [Fact]
    public void DefaultsAreValid()
    {
        var options = new StorageOptions();

        Assert.True(Validate(options).Succeeded);
        Assert.Equal("ott:", options.KeyPrefix);
        Assert.Equal("./data", options.DataDir);
        Assert.Equal("256m", options.EmbeddedMemory);
        Assert.Equal("16m", options.EmbeddedIndex);
        Assert.Equal(TimeSpan.FromMinutes(5), options.CheckpointInterval);
    }

    [Theory]
    [InlineData("ott{")]
    [InlineData("a|b")]
    [InlineData("ott*")]
    [InlineData("o t")]
    public void PrefixWithBracesPipesOrGlobCharactersIsRejected(string prefix) =>
        Assert.True(Validate(new StorageOptions { KeyPrefix = prefix }).Failed);

    [Fact]
    public void EmptyPrefixIsAllowed() => Assert.True(Validate(new StorageOptions { KeyPrefix = "" }).Succeeded);

    [Fact]
    public void MemorySizeMustBeGarnetSizeSyntax() =>
        Assert.True(Validate(new StorageOptions { EmbeddedMemory = "lots" }).Failed);

    [Fact]
    public void CheckpointIntervalBelowOneSecondIsRejected() =>
        Assert.True(Validate(new StorageOptions { CheckpointInterval = TimeSpan.FromMilliseconds(10) }).Failed);

    [Fact]
    public void GarnetArgumentsCarryTheMandatoryFlags()
    {
        var args = EmbeddedGarnet.Arguments(7000, "/d", new StorageOptions { EmbeddedMemory = "64m", CheckpointInterval = TimeSpan.FromMinutes(2) });

        string ValueOf(string flag) => args[Array.IndexOf(args, flag) + 1];
        Assert.Equal("true", ValueOf("--lua-transaction-mode"));
        Assert.Equal("true", ValueOf("--storage-tier"));
        Assert.Equal("true", ValueOf("--aof-commit-wait"));
        Assert.Equal("RandomAccess", ValueOf("--device-type"));
        Assert.Equal("7000", ValueOf("--port"));
        Assert.Equal("64m", ValueOf("--memory"));
        Assert.Equal("120", ValueOf("--checkpoint-freq"));
        Assert.Equal(Path.Combine("/d", "log"), ValueOf("--logdir"));
        Assert.DoesNotContain("--reviv", args);
        Assert.DoesNotContain("--aof-null-device", args);
    }
}
