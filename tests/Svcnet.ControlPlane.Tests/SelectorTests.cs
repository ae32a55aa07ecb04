using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Printing;
using Svcnet.ControlPlane.Selectors;

namespace Svcnet.ControlPlane.Tests;

public class SelectorTests
{
    private static readonly Dictionary<string, string> Labels = new() { ["app"] = "web", ["tier"] = "front", ["version"] = "3" };

    [Theory]
    [InlineData("", true)]
    [InlineData("app=web", true)]
    [InlineData("app==web", true)]
    [InlineData("app!=web", false)]
    [InlineData("app=web,tier=back", false)]
    [InlineData("app in (web, db)", true)]
    [InlineData("app notin (web,db)", false)]
    [InlineData("missing notin (x)", true)]
    [InlineData("missing!=x", true)]
    [InlineData("tier", true)]
    [InlineData("!tier", false)]
    [InlineData("!missing", true)]
    [InlineData("version>2", true)]
    [InlineData("version<3", false)]
    [InlineData("example.com/key", false)]
    public void Label_selector_grammar(string selector, bool matches) =>
        Assert.Equal(matches, LabelSelector.Parse(selector).Matches(Labels));

    [Theory]
    [InlineData("app=(web")]
    [InlineData("app in web")]
    [InlineData("bad key!=x")]
    [InlineData("app=web,")]
    [InlineData("version>abc")]
    public void Bad_label_selectors_are_400(string selector) =>
        Assert.Equal(400, Assert.Throws<ApiException>(() => LabelSelector.Parse(selector)).Code);

    [Fact]
    public void Field_selectors_know_each_kinds_fields()
    {
        var evt = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse("""{"metadata":{"name":"e1","namespace":"default"},"involvedObject":{"kind":"Service","name":"web","namespace":"default","uid":"u1"},"reason":"X","type":"Normal"}""")!;
        Assert.True(FieldSelector.Parse("involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Service,involvedObject.uid=u1", Resources.Events).Matches(evt));
        Assert.False(FieldSelector.Parse("involvedObject.kind!=Service", Resources.Events).Matches(evt));
        Assert.Equal("field label not supported: involvedObject.name", Assert.Throws<ApiException>(() => FieldSelector.Parse("involvedObject.name=web", Resources.Services)).Message);
        Assert.Equal("web", FieldSelector.Parse("metadata.name=web", Resources.Pods).Name);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(119, "119s")]
    [InlineData(120, "2m")]
    [InlineData(125, "2m5s")]
    [InlineData(601, "10m")]
    [InlineData(3 * 3600 + 60, "3h1m")]
    [InlineData(8 * 3600, "8h")]
    [InlineData(15 * 3600, "15h")]
    [InlineData(50 * 3600, "2d2h")]
    [InlineData(9 * 86400, "9d")]
    [InlineData(800 * 86400, "2y70d")]
    public void Human_duration_matches_apimachinery(int seconds, string expected) =>
        Assert.Equal(expected, HumanDuration.Format(TimeSpan.FromSeconds(seconds)));
}
