using System.Text.Json;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Netfilter.Nftables.Parsing;

/// <summary>
/// Reads <c>nft -j list ruleset</c> (libnftables' JSON schema 1) into the same model as the text parser. Anything it
/// does not understand is an error naming its JSON path.
/// </summary>
internal static class NftJsonParser
{
    public static NftRuleset Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("nftables", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            throw new NftParseException("$", "expected an object with an \"nftables\" array");
        }

        var builder = new NftRulesetBuilder();
        var index = 0;
        foreach (var item in items.EnumerateArray())
        {
            var path = $"$.nftables[{index++}]";
            var (kind, body) = Single(item, path);
            path += "." + kind;
            switch (kind)
            {
                case "metainfo":
                    break;
                case "table":
                    var table = builder.Table(String(body, "family", path), String(body, "name", path), path);
                    table.Handle = OptionalLong(body, "handle");
                    table.Comment = OptionalString(body, "comment") ?? table.Comment;
                    break;
                case "chain":
                    Chain(builder, body, path);
                    break;
                case "set" or "map":
                    Set(builder, body, kind == "map", path);
                    break;
                case "rule":
                    Rule(builder, body, path);
                    break;
                default:
                    throw new NftParseException(path, $"unsupported object {kind}");
            }
        }

        return builder.Build();
    }

    private static NftRulesetBuilder.TableBuilder TableOf(NftRulesetBuilder builder, JsonElement body, string path) =>
        builder.Table(String(body, "family", path), String(body, "table", path), path);

    private static void Chain(NftRulesetBuilder builder, JsonElement body, string path)
    {
        var chain = TableOf(builder, body, path).Chain(String(body, "name", path));
        chain.Handle = OptionalLong(body, "handle");
        chain.Type = OptionalString(body, "type");
        chain.Hook = OptionalString(body, "hook");
        chain.Priority = body.TryGetProperty("prio", out var prio) ? prio.GetInt32() : null;
        chain.Policy = OptionalString(body, "policy");
        chain.Device = OptionalString(body, "dev");
        chain.Comment = OptionalString(body, "comment");
    }

    private static void Set(NftRulesetBuilder builder, JsonElement body, bool isMap, string path)
    {
        var set = TableOf(builder, body, path).Set(String(body, "name", path));
        set.Handle = OptionalLong(body, "handle");
        set.KeyType = body.GetProperty("type") is { ValueKind: JsonValueKind.Array } types
            ? [.. types.EnumerateArray().Select(t => t.GetString()!)]
            : [String(body, "type", path)];
        set.DataType = isMap ? String(body, "map", path) : null;
        set.Flags = body.TryGetProperty("flags", out var flags)
            ? flags.ValueKind == JsonValueKind.Array ? [.. flags.EnumerateArray().Select(f => f.GetString()!)] : [flags.GetString()!]
            : [];
        set.Timeout = OptionalLong(body, "timeout");
        set.Comment = OptionalString(body, "comment");
        if (body.TryGetProperty("elem", out var elements))
        {
            var i = 0;
            foreach (var element in elements.EnumerateArray())
            {
                set.Elements.Add(Element(element, isMap, $"{path}.elem[{i++}]"));
            }
        }
    }

    private static NftElement Element(JsonElement element, bool isMap, string path)
    {
        if (isMap)
        {
            if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() != 2)
            {
                throw new NftParseException(path, "expected a [key, value] pair");
            }

            return Element(element[0], isMap: false, path + "[0]") with { Value = Expr(element[1], path + "[1]") };
        }

        if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("elem", out var elem))
        {
            return new NftElement(
                Expr(elem.GetProperty("val"), path + ".elem.val"),
                null,
                OptionalString(elem, "comment"),
                OptionalLong(elem, "timeout"),
                OptionalLong(elem, "expires"));
        }

        return new NftElement(Expr(element, path));
    }

    private static void Rule(NftRulesetBuilder builder, JsonElement body, string path)
    {
        var table = TableOf(builder, body, path);
        var chain = table.ExistingChain(String(body, "chain", path), path);
        var statements = new List<NftStatement>();
        var i = 0;
        foreach (var statement in body.GetProperty("expr").EnumerateArray())
        {
            statements.Add(Statement(statement, table.Family, $"{path}.expr[{i++}]"));
        }

        chain.Rules.Add(new NftRule(new ValueList<NftStatement>(statements), OptionalString(body, "comment"), OptionalLong(body, "handle"), path));
    }

    private static NftStatement Statement(JsonElement statement, string family, string path)
    {
        var (kind, body) = Single(statement, path);
        path += "." + kind;
        switch (kind)
        {
            case "match":
                var op = String(body, "op", path);
                return new NftMatch(Expr(body.GetProperty("left"), path + ".left"), op == "in" ? "==" : op, Expr(body.GetProperty("right"), path + ".right"));
            case "accept" or "drop" or "return" or "continue" or "queue" or "jump" or "goto":
                return new NftVerdictStatement(Verdict(kind, body, path));
            case "vmap":
                return new NftVmap(Expr(body.GetProperty("key"), path + ".key"), Expr(body.GetProperty("data"), path + ".data"));
            case "counter":
                return body.ValueKind == JsonValueKind.Object
                    ? new NftCounter(OptionalLong(body, "packets") ?? 0, OptionalLong(body, "bytes") ?? 0)
                    : throw new NftParseException(path, "named counters are not supported");
            case "mangle":
                return new NftMangle(Expr(body.GetProperty("key"), path + ".key"), Expr(body.GetProperty("value"), path + ".value"));
            case "dnat" or "snat" or "masquerade" or "redirect":
                return Nat(kind, body, path);
            case "reject":
                if (body.ValueKind != JsonValueKind.Object)
                {
                    return NftFamilies.DefaultReject(family);
                }

                var type = String(body, "type", path);
                return new NftReject(type, OptionalString(body, "expr"));
            case "set":
                var element = body.GetProperty("elem");
                long? timeout = null;
                var elementExpr = element.ValueKind == JsonValueKind.Object && element.TryGetProperty("elem", out var inner)
                    ? Expr(inner.GetProperty("val"), path + ".elem.elem.val")
                    : Expr(element, path + ".elem");
                if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("elem", out var withTimeout))
                {
                    timeout = OptionalLong(withTimeout, "timeout");
                }

                return new NftSetUpdate(String(body, "op", path), String(body, "set", path).TrimStart('@'), elementExpr, timeout);
            case "log":
                return new NftLog(OptionalString(body, "prefix"), OptionalString(body, "level"));
            case "notrack":
                return new NftOther("notrack");
            default:
                throw new NftParseException(path, $"unsupported statement {kind}");
        }
    }

    private static NftNat Nat(string kind, JsonElement body, string path)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return new NftNat(kind, null, null, null, new ValueList<string>([]));
        }

        var flags = body.TryGetProperty("flags", out var f)
            ? f.ValueKind == JsonValueKind.Array ? f.EnumerateArray().Select(x => x.GetString()!).ToList() : [f.GetString()!]
            : [];
        return new NftNat(
            kind,
            OptionalString(body, "family"),
            body.TryGetProperty("addr", out var addr) ? Expr(addr, path + ".addr") : null,
            body.TryGetProperty("port", out var port) ? Expr(port, path + ".port") : null,
            new ValueList<string>(flags));
    }

    private static NftVerdict Verdict(string kind, JsonElement body, string path) =>
        kind is "jump" or "goto" ? new NftVerdict(kind, String(body, "target", path)) : new NftVerdict(kind, null);

    private static NftExpr Expr(JsonElement value, string path)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                var text = value.GetString()!;
                return text.StartsWith('@') ? new NftSetRef(text[1..]) : NftValue.Of(text);
            case JsonValueKind.Number:
                return new NftValue(value.GetRawText());
            case JsonValueKind.True or JsonValueKind.False:
                return new NftValue(value.GetBoolean() ? "true" : "false");
            case JsonValueKind.Object:
                break;
            case JsonValueKind.Array when value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String):
                // A flag combination, as "ct status snat,dnat" lists it.
                return new NftFlagList(new ValueList<string>(value.EnumerateArray().Select(v => v.GetString()!)));
            default:
                throw new NftParseException(path, $"unsupported value {value.GetRawText()}");
        }

        var (kind, body) = Single(value, path);
        path += "." + kind;
        switch (kind)
        {
            case "payload":
                if (!body.TryGetProperty("protocol", out _))
                {
                    throw new NftParseException(path, "raw payload expressions are not supported");
                }

                return new NftPayload(String(body, "protocol", path), String(body, "field", path));
            case "meta":
                return new NftMeta(String(body, "key", path));
            case "ct":
                if (body.TryGetProperty("dir", out _))
                {
                    throw new NftParseException(path, "ct expressions with a direction are not supported");
                }

                return new NftCt(String(body, "key", path));
            case "fib":
                var flags = body.GetProperty("flags");
                return new NftFib(
                    new ValueList<string>(flags.ValueKind == JsonValueKind.Array ? flags.EnumerateArray().Select(x => x.GetString()!) : [flags.GetString()!]),
                    String(body, "result", path));
            case "numgen":
                return new NftNumgen(String(body, "mode", path), body.GetProperty("mod").GetInt32(), body.TryGetProperty("offset", out var offset) ? offset.GetInt32() : 0);
            case "concat":
                return new NftConcat(new ValueList<NftExpr>(body.EnumerateArray().Select((p, i) => Expr(p, $"{path}[{i}]"))));
            case "prefix":
                return new NftPrefix(String(body, "addr", path), body.GetProperty("len").GetInt32());
            case "range":
                return new NftRange(Expr(body[0], path + "[0]"), Expr(body[1], path + "[1]"));
            case "set":
                var elements = body.ValueKind == JsonValueKind.Array ? body.EnumerateArray().ToList() : [body];
                return new NftAnonymousSet(new ValueList<NftElement>(elements.Select((e, i) =>
                    Element(e, e.ValueKind == JsonValueKind.Array, $"{path}[{i}]"))));
            case "map":
                return new NftMapLookup(Expr(body.GetProperty("key"), path + ".key"), Expr(body.GetProperty("data"), path + ".data"));
            case "&" or "|" or "^" or "<<" or ">>":
                return new NftBinary(kind, Expr(body[0], path + "[0]"), Expr(body[1], path + "[1]"));
            case "accept" or "drop" or "return" or "continue" or "jump" or "goto":
                return new NftVerdictValue(Verdict(kind, body, path));
            case "elem":
                return Expr(body.GetProperty("val"), path + ".val");
            default:
                throw new NftParseException(path, $"unsupported expression {kind}");
        }
    }

    private static (string Kind, JsonElement Body) Single(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new NftParseException(path, "expected an object");
        }

        using var properties = element.EnumerateObject();
        if (!properties.MoveNext())
        {
            throw new NftParseException(path, "empty object");
        }

        var first = properties.Current;
        return properties.MoveNext() ? throw new NftParseException(path, "expected an object with one key") : (first.Name, first.Value);
    }

    private static string String(JsonElement body, string name, string path) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new NftParseException(path, $"missing \"{name}\"");

    private static string? OptionalString(JsonElement body, string name) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long? OptionalLong(JsonElement body, string name) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            ? value.GetInt64()
            : null;
}
