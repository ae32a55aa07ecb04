using System.Text;
using Svcnet.Platform.Exec;

namespace Svcnet.Inspect.Graph;

/// <summary>Renders a <see cref="ChainGraph"/> as Graphviz DOT, Mermaid, or SVG (through <c>dot -Tsvg</c>).</summary>
public static class GraphWriter
{
    public static string Dot(ChainGraph graph)
    {
        var sb = new StringBuilder();
        sb.Append("digraph kubeproxy {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n");
        foreach (var n in graph.Nodes)
        {
            var style = n.Kind switch
            {
                "endpoint" => ", shape=ellipse, style=filled, fillcolor=\"#d8f0d8\"",
                "drop" => ", shape=octagon, style=filled, fillcolor=\"#f4c7c3\"",
                "verdict" => ", shape=oval, style=filled, fillcolor=\"#e0e0f8\"",
                _ => n.Id.StartsWith("filter/", StringComparison.Ordinal) ? ", style=filled, fillcolor=\"#fff2cc\"" : "",
            };
            sb.Append("  ").Append(Quote(n.Id)).Append(" [label=").Append(Quote(n.Label)).Append(style).Append("];\n");
        }
        foreach (var e in graph.Edges)
        {
            sb.Append("  ").Append(Quote(e.From)).Append(" -> ").Append(Quote(e.To)).Append(" [label=").Append(Quote(e.Label));
            sb.Append(e.Dashed ? ", style=dashed" : "").Append("];\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    public static string Mermaid(ChainGraph graph)
    {
        var ids = graph.Nodes.Select((n, i) => (n.Id, Short: "n" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToDictionary(x => x.Id, x => x.Short, StringComparer.Ordinal);
        var sb = new StringBuilder("flowchart LR\n");
        foreach (var n in graph.Nodes)
        {
            var (open, close) = n.Kind switch { "endpoint" => ("([", "])"), "drop" => ("{{", "}}"), "verdict" => ("(", ")"), _ => ("[", "]") };
            sb.Append("  ").Append(ids[n.Id]).Append(open).Append('"').Append(Escape(n.Label)).Append('"').Append(close).Append('\n');
        }
        foreach (var e in graph.Edges)
        {
            var arrow = e.Dashed ? "-.->" : "-->";
            sb.Append("  ").Append(ids[e.From]).Append(' ').Append(arrow);
            if (e.Label.Length > 0)
            {
                sb.Append("|\"").Append(Escape(e.Label)).Append("\"|");
            }
            sb.Append(' ').Append(ids[e.To]).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Runs Graphviz (Debian package graphviz) on the DOT text.</summary>
    public static string Svg(ChainGraph graph)
    {
        var result = ProcessCommandRunner.Default.RunTextAsync("dot", ["-Tsvg"], Dot(graph), TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        return result.ExitCode switch
        {
            0 => result.Stdout,
            127 => throw new InvalidOperationException("Graphviz `dot` is not installed (apt-get install graphviz)"),
            124 => throw new InvalidOperationException("dot did not finish in 60 s"),
            _ => throw new InvalidOperationException($"dot failed: {result.Stderr.Trim()}"),
        };
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string Escape(string s) => s.Replace("\"", "#quot;", StringComparison.Ordinal);
}
