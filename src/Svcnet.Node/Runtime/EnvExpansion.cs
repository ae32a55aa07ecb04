using System.Text;

namespace Svcnet.Node.Runtime;

/// <summary>
/// Kubernetes' <c>$(VAR_NAME)</c> expansion for command, args and env values: a defined variable is replaced,
/// an undefined reference stays verbatim, and <c>$$</c> escapes a <c>$</c> (so <c>$$(VAR)</c> yields <c>$(VAR)</c>).
/// </summary>
public static class EnvExpansion
{
    public static string Expand(string input, IReadOnlyDictionary<string, string> vars)
    {
        var sb = new StringBuilder(input.Length);
        for (var i = 0; i < input.Length; i++)
        {
            var c = input[i];
            if (c != '$' || i + 1 >= input.Length)
            {
                sb.Append(c);
                continue;
            }

            var next = input[i + 1];
            if (next == '$')
            {
                sb.Append('$');
                i++;
            }
            else if (next == '(')
            {
                var close = input.IndexOf(')', i + 2);
                if (close < 0)
                {
                    sb.Append(input, i, input.Length - i);
                    break;
                }

                var name = input[(i + 2)..close];
                sb.Append(vars.TryGetValue(name, out var value) ? value : input[i..(close + 1)]);
                i = close;
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
