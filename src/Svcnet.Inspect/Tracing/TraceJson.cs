using System.Text;
using System.Text.Json;

namespace Svcnet.Inspect.Tracing;

/// <summary>
/// The machine-readable form of a trace:
/// <c>{"outcomes":[{"verdict","destination","probability","masquerade","path":[{"table","chain","rule","line"[,"lookup"]}]}],"assumptions":[...]}</c>.
/// </summary>
public static class TraceJson
{
    public static string Write(TraceResult result)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("outcomes");
            foreach (var o in result.Outcomes)
            {
                w.WriteStartObject();
                w.WriteString("verdict", o.Verdict.ToString().ToUpperInvariant());
                if (o.Destination is null)
                {
                    w.WriteNull("destination");
                }
                else
                {
                    w.WriteString("destination", o.Destination);
                }
                w.WriteNumber("probability", Math.Round(o.Probability, 6));
                w.WriteBoolean("masquerade", o.Masquerade);
                w.WriteStartArray("path");
                foreach (var step in o.Path)
                {
                    w.WriteStartObject();
                    w.WriteString("table", step.Table);
                    w.WriteString("chain", step.Chain);
                    w.WriteString("rule", step.Rule);
                    w.WriteNumber("line", step.Line);
                    if (step.Lookup is not null)
                    {
                        w.WriteString("lookup", step.Lookup);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("assumptions");
            foreach (var a in result.Assumptions)
            {
                w.WriteStringValue(a);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
