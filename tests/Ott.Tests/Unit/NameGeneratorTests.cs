using Ott.Sync.Auth;

namespace Ott.Tests.Unit;

public class NameGeneratorTests
{
    [Fact]
    public void NamesAreAnAdjectiveAColourAndAnAnimalJoinedByUnderscores()
    {
        for (var i = 0; i < 200; i++)
        {
            var parts = NameGenerator.Generate().Split('_');

            Assert.Equal(3, parts.Length);
            Assert.Contains(parts[0], NameGenerator.Adjectives);
            Assert.Contains(parts[1], NameGenerator.Colours);
            Assert.Contains(parts[2], NameGenerator.Animals);
        }
    }

    [Fact]
    public void WordListsAreLargeEnoughForVariety()
    {
        Assert.True(NameGenerator.Adjectives.Count >= 40);
        Assert.True(NameGenerator.Colours.Count >= 20);
        Assert.True(NameGenerator.Animals.Count >= 40);
    }

    [Fact]
    public void EveryWordIsLowerCaseLettersWithoutDuplicates()
    {
        foreach (var list in new[] { NameGenerator.Adjectives, NameGenerator.Colours, NameGenerator.Animals })
        {
            Assert.All(list, word => Assert.Matches("^[a-z]+$", word));
            Assert.Equal(list.Count, list.Distinct().Count());
        }
    }

    [Fact]
    public void GeneratedNamesVary()
    {
        var names = Enumerable.Range(0, 50).Select(_ => NameGenerator.Generate()).ToHashSet();

        Assert.True(names.Count > 40);
    }
}
