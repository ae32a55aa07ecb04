using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Printing;

/// <summary>One column of a server-side Table (metav1.TableColumnDefinition) with the function that prints its cell.</summary>
public sealed record TableColumn(string Name, string Type, string Format, string Description, int Priority, Func<JsonObject, DateTimeOffset, JsonNode?> Cell)
{
    public JsonObject Definition() => new()
    {
        ["name"] = Name,
        ["type"] = Type,
        ["format"] = Format,
        ["description"] = Description,
        ["priority"] = Priority,
    };
}
