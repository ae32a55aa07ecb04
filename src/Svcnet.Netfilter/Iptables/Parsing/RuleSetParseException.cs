namespace Svcnet.Netfilter.Iptables.Parsing;

/// <summary>A dump line the parser does not understand; the message names the line, never silently skipped.</summary>
public sealed class RuleSetParseException : Exception
{
    public RuleSetParseException(int line, string text, string reason)
        : base($"line {line}: {reason}: {text}")
    {
        Line = line;
        LineText = text;
        Reason = reason;
    }

    public RuleSetParseException()
    {
        LineText = "";
        Reason = "";
    }

    public RuleSetParseException(string message)
        : base(message)
    {
        LineText = "";
        Reason = message;
    }

    public RuleSetParseException(string message, Exception innerException)
        : base(message, innerException)
    {
        LineText = "";
        Reason = message;
    }

    public int Line { get; }

    public string LineText { get; }

    public string Reason { get; }
}
