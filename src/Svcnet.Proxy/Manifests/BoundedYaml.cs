using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Svcnet.Proxy.Manifests;

/// <summary>
/// The one way YAML is read here (manifests, kube-proxy's --config): input and documents bounded in size, and the
/// expansion of aliases bounded, so that a small hostile file (nine nested levels of <c>[*a,*a,...]</c>) is a clear
/// error naming the file instead of gigabytes of memory. YamlDotNet keeps an alias as a shared node, so the parse
/// itself stays small; the bound applies where nodes are expanded (<see cref="YamlToJson"/>).
/// </summary>
public static class BoundedYaml
{
    /// <summary>Largest input read (a file or stdin); far above any cluster this tool renders.</summary>
    public const long MaxInputChars = 64L * 1024 * 1024;

    /// <summary>Largest document: the API server's request body limit (3 MiB), so no real object is larger.</summary>
    public const long MaxDocumentChars = 3L * 1024 * 1024;

    /// <summary>
    /// Nodes one document may expand to: a node takes at least two characters (<c>[1,1,...]</c>), so a document within
    /// <see cref="MaxDocumentChars"/> has fewer without aliases, and the bound only ever stops alias expansion (like
    /// go-yaml's "document contains excessive aliasing").
    /// </summary>
    public const long MaxExpandedNodes = 2_000_000;

    /// <summary>Reads a file, refusing one larger than <see cref="MaxInputChars"/> before reading it.</summary>
    public static string ReadFile(string path)
    {
        var length = new FileInfo(path).Length;
        if (length > MaxInputChars)
        {
            throw new FormatException($"{path}: {length} bytes is larger than the {MaxInputChars} bytes read from one input");
        }
        return File.ReadAllText(path);
    }

    /// <summary>Reads a stream (stdin) up to <see cref="MaxInputChars"/>.</summary>
    public static string ReadAll(TextReader reader, string source)
    {
        var text = new System.Text.StringBuilder();
        var buffer = new char[81920];
        int read;
        while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            if (text.Length + read > MaxInputChars)
            {
                throw new FormatException($"{source}: larger than the {MaxInputChars} bytes read from one input");
            }
            text.Append(buffer, 0, read);
        }
        return text.ToString();
    }

    /// <summary>
    /// Parses every document; syntax errors surface as YamlDotNet's exceptions (callers report them with the
    /// position), a document over <see cref="MaxDocumentChars"/> as a <see cref="FormatException"/> naming it.
    /// </summary>
    public static YamlStream Load(string source, IParser parser)
    {
        var stream = new YamlStream();
        stream.Load(new SizeCheckingParser(parser, source));
        return stream;
    }

    /// <summary>Passes the parser's events on, failing as soon as one document grows over the limit.</summary>
    private sealed class SizeCheckingParser(IParser inner, string source) : IParser
    {
        private long documentStart;
        private long documentLine = 1;

        public YamlDotNet.Core.Events.ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (!inner.MoveNext())
            {
                return false;
            }
            var e = inner.Current!;
            if (e is YamlDotNet.Core.Events.DocumentStart)
            {
                documentStart = e.Start.Index;
                documentLine = e.Start.Line;
            }
            else if (e.End.Index - documentStart > MaxDocumentChars)
            {
                throw new FormatException($"{source}:{documentLine}: a YAML document larger than {MaxDocumentChars} characters (the API server's request limit)");
            }
            return true;
        }
    }
}
