using System.Text;
using Ott.Sync.Protocol;

namespace Ott.Tests.Unit;

public class ParserTests
{
    private static ClientMessage Parse(string json) => ClientMessageParser.Parse(Encoding.UTF8.GetBytes(json));

    private static OttFailure Rejected(string json) => Assert.IsType<InvalidClientMessage>(Parse(json)).Failure;

    private static RoomRequest Request(string requestJson) =>
        Assert.IsType<RequestMessage>(Parse($$"""{"action":"req","request":{{requestJson}}}""")).Request;

    [Theory]
    [InlineData("{not json")]
    [InlineData("")]
    [InlineData("[1,2]")]
    [InlineData("\"auth\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("""{"action":5}""")]
    [InlineData("""{"action":null}""")]
    [InlineData("""{"action":"req"}""")]
    [InlineData("""{"action":"req","request":[]}""")]
    public void MalformedFramesAreInvalidMessages(string json)
    {
        var failure = Rejected(json);

        Assert.Equal("InvalidMessage", failure.Name);
        Assert.True(failure.IsInputError);
    }

    [Fact]
    public void DeeplyNestedJsonIsAnInvalidMessage()
    {
        var json = """{"action":"req","x":""" + new string('[', 200) + new string(']', 200) + "}";

        Assert.Equal("InvalidMessage", Rejected(json).Name);
    }

    [Theory]
    [InlineData("""{"action":"req","action":"req","request":{"type":3}}""")]
    [InlineData("""{"action":"req","request":{"type":3,"type":4}}""")]
    [InlineData("""{"action":"req","request":{"type":14,"video":{"service":"direct","id":"a","id":"b"}}}""")]
    public void DuplicateKeysAreAnInvalidMessageNotAFault(string json)
    {
        Assert.Equal("InvalidMessage", Rejected(json).Name);
    }

    [Fact]
    public void AnUnknownActionIsUnknownAction()
    {
        var failure = Rejected("""{"action":"dance"}""");

        Assert.Equal("UnknownAction", failure.Name);
        Assert.True(failure.IsInputError);
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"type":22}""")]
    [InlineData("""{"type":-1}""")]
    [InlineData("""{"type":"2"}""")]
    [InlineData("""{"type":null}""")]
    public void AnUnknownOrMissingTypeIsUnknownRequestType(string request)
    {
        Assert.Equal("UnknownRequestType", Rejected($$"""{"action":"req","request":{{request}}}""").Name);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(10)]
    public void ServerInternalTypesAreNotAllowed(int type)
    {
        var failure = Rejected("""{"action":"req","request":{"type":""" + type + ""","info":{"id":"x","username":"y"}}}""");

        Assert.Equal("RequestNotAllowed", failure.Name);
        Assert.True(failure.IsInputError);
    }

    [Theory]
    [InlineData("""{"type":2,"state":"yes"}""")]
    [InlineData("""{"type":2}""")]
    [InlineData("""{"type":4}""")]
    [InlineData("""{"type":4,"value":null}""")]
    [InlineData("""{"type":4,"value":"10"}""")]
    [InlineData("""{"type":7,"fromIdx":"0","toIdx":1}""")]
    [InlineData("""{"type":7,"fromIdx":0.5,"toIdx":1}""")]
    [InlineData("""{"type":16,"speed":0}""")]
    [InlineData("""{"type":16,"speed":-1}""")]
    [InlineData("""{"type":9,"targetClientId":"c","role":7}""")]
    [InlineData("""{"type":9,"targetClientId":"c","role":-1}""")]
    [InlineData("""{"type":5}""")]
    [InlineData("""{"type":5,"video":{"service":"direct"}}""")]
    [InlineData("""{"type":5,"videos":{"service":"direct","id":"x"}}""")]
    [InlineData("""{"type":6,"video":"x"}""")]
    [InlineData("""{"type":8,"video":{"service":"direct","id":"x"}}""")]
    [InlineData("""{"type":11,"text":5}""")]
    [InlineData("""{"type":12}""")]
    [InlineData("""{"type":13,"settings":{"title":5}}""")]
    [InlineData("""{"type":13,"settings":{"grants":[[7,1]]}}""")]
    [InlineData("""{"type":13,"settings":{"visibility":"invalid"}}""")]
    [InlineData("""{"type":14}""")]
    [InlineData("""{"type":17,"discard":"yes"}""")]
    [InlineData("""{"type":18}""")]
    [InlineData("""{"type":19,"video":{"service":"direct","id":"x"},"update":{"subtitleUrl":123}}""")]
    public void MissingOrMistypedFieldsAreInvalidMessages(string request)
    {
        var failure = Rejected($$"""{"action":"req","request":{{request}}}""");

        Assert.Equal("InvalidMessage", failure.Name);
        Assert.True(failure.IsInputError);
    }

    [Fact]
    public void ASettingsErrorNamesTheField()
    {
        Assert.Contains("settings.title", Rejected("""{"action":"req","request":{"type":13,"settings":{"title":"a\nb"}}}""").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownFieldsAreIgnoredAtTheTopLevelAndNested()
    {
        var request = Request("""{"type":4,"value":12,"extra":{"deep":[1,2]},"zzz":null}""");

        Assert.Equal(12, Assert.IsType<SeekRequest>(request).Value);
        Assert.IsType<RequestMessage>(Parse("""{"action":"req","unknown":true,"request":{"type":15}}"""));
        Assert.IsType<ApplySettingsRequest>(Request("""{"type":13,"settings":{"title":"t","foo":1}}"""));
    }

    [Fact]
    public void APlayNowWithAWholeQueueItemIsAccepted()
    {
        var request = Request("""
            {"type":14,"video":{"service":"direct","id":"https://x.example/a.mp4","title":"A","description":"d",
             "thumbnail":"https://x.example/t.png","length":120,"mime":"video/mp4","highlight":true,"startAt":30,
             "subtitleUrl":"","hls_url":null}}
            """);

        var playNow = Assert.IsType<PlayNowRequest>(request);
        Assert.Equal(new VideoId("direct", "https://x.example/a.mp4"), playNow.Video.VideoId);
        Assert.Null(playNow.Video.Subtitle);
    }

    [Fact]
    public void TheParsedRequestKeepsItsRawFormForTheEvent()
    {
        var request = Request("""{"type":5,"videos":[{"service":"direct","id":"a"},{"service":"direct","id":"a"}],"x":1}""");

        Assert.Equal("""{"type":5,"videos":[{"service":"direct","id":"a"},{"service":"direct","id":"a"}],"x":1}""", request.Raw.ToJsonString());
        Assert.Equal(2, ((AddRequest)request).Videos!.Count);
    }

    [Fact]
    public void EveryAllowedRequestTypeParses()
    {
        string[] requests =
        [
            """{"type":2,"state":true}""", """{"type":3}""", """{"type":4,"value":0}""",
            """{"type":5,"url":"https://x.example/a.mp4"}""", """{"type":6,"video":{"service":"direct","id":"a"}}""",
            """{"type":7,"fromIdx":0,"toIdx":1}""", """{"type":8,"video":{"service":"direct","id":"a"},"add":false}""",
            """{"type":9,"targetClientId":"c","role":4}""", """{"type":11,"text":"hi"}""", """{"type":12,"event":{"id":"e"}}""",
            """{"type":13,"settings":{}}""", """{"type":14,"video":{"service":"direct","id":"a"}}""", """{"type":15}""",
            """{"type":16,"speed":0.25}""", """{"type":17}""", """{"type":18,"clientId":"c"}""",
            """{"type":19,"video":{"service":"direct","id":"a"},"update":{}}""",
        ];

        var types = requests.Select(r => (int)Request(r).Type);

        Assert.Equal([2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19], types);
    }

    [Theory]
    [InlineData("""{"action":"kickme"}""", 4000)]
    [InlineData("""{"action":"kickme","reason":1000}""", 1000)]
    [InlineData("""{"action":"kickme","reason":3000}""", 3000)]
    [InlineData("""{"action":"kickme","reason":4999}""", 4999)]
    [InlineData("""{"action":"kickme","reason":4005}""", 4005)]
    [InlineData("""{"action":"kickme","reason":1001}""", 4000)]
    [InlineData("""{"action":"kickme","reason":2999}""", 4000)]
    [InlineData("""{"action":"kickme","reason":5000}""", 4000)]
    [InlineData("""{"action":"kickme","reason":"1000"}""", 4000)]
    [InlineData("""{"action":"kickme","reason":3000.5}""", 4000)]
    public void KickMeClosesWithASendableReasonOr4000(string json, int code)
    {
        Assert.Equal(code, Assert.IsType<KickMeMessage>(Parse(json)).Code);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("ready")]
    [InlineData("buffering")]
    [InlineData("error")]
    public void AValidStatusParses(string status)
    {
        Assert.Equal(status, Assert.IsType<StatusMessage>(Parse($$"""{"action":"status","status":"{{status}}"}""")).Status);
    }

    [Theory]
    [InlineData("""{"action":"status","status":"playing"}""")]
    [InlineData("""{"action":"status"}""")]
    [InlineData("""{"action":"status","status":1}""")]
    public void AnInvalidStatusIsAnInvalidMessage(string json)
    {
        Assert.Equal("InvalidMessage", Rejected(json).Name);
    }

    [Fact]
    public void AuthAndNotifyParse()
    {
        Assert.Equal("tok", Assert.IsType<AuthMessage>(Parse("""{"action":"auth","token":"tok"}""")).Token);
        Assert.Null(Assert.IsType<AuthMessage>(Parse("""{"action":"auth","token":5}""")).Token);
        Assert.Null(Assert.IsType<AuthMessage>(Parse("""{"action":"auth"}""")).Token);
        Assert.True(Assert.IsType<NotifyMessage>(Parse("""{"action":"notify","message":"usernameChanged"}""")).UsernameChanged);
        Assert.False(Assert.IsType<NotifyMessage>(Parse("""{"action":"notify","message":"other"}""")).UsernameChanged);
    }
}
