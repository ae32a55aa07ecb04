namespace Svcnet.Proxy.Conversion;

/// <summary>One invalid field of one object, worded like a Kubernetes 422 Invalid cause.</summary>
/// <param name="Kind">The object's kind, e.g. Service.</param>
/// <param name="Object">The object as <c>namespace/name</c>.</param>
/// <param name="Field">The field path, e.g. <c>spec.ports[0].port</c>.</param>
/// <param name="Message">What is wrong, e.g. <c>Invalid value: 70000: must be between 1 and 65535, inclusive</c>.</param>
public sealed record FieldError(string Kind, string Object, string Field, string Message)
{
    public override string ToString() => $"{Kind} \"{Object}\" is invalid: {Field}: {Message}";
}

/// <summary>Thrown when an object cannot be converted; carries every invalid field found in it.</summary>
public sealed class InvalidObjectException(IReadOnlyList<FieldError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<FieldError> Errors { get; } = errors;
}
