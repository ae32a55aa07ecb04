using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Svcnet.ControlPlane.Hosting;

/// <summary>
/// The server's TLS material, generated on first start and kept in the data directory: a self-signed CA (ca.crt,
/// ca.key) and a serving certificate it signs (server.crt, server.key) for localhost, 127.0.0.1 and the bind
/// address. Keys are written 0600. The CA goes into the kubeconfig so clients verify the server.
/// </summary>
public static class Certificates
{
    /// <summary>The DNS names of the serving certificate: kube-apiserver's for in-cluster clients, and localhost.</summary>
    private static readonly string[] DnsNames = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];

    /// <summary>The serving certificate's validity when it is issued.</summary>
    public static readonly TimeSpan ServingValidity = TimeSpan.FromDays(365);

    /// <summary>
    /// The renewal window: a serving certificate past this fraction of its validity is issued again at start, as the
    /// kubelet rotates its certificates at 70-90 % of their lifetime (the CA, 10 years, is not renewed).
    /// </summary>
    public const double RenewAfterFraction = 0.8;

    public static (X509Certificate2 Serving, string CaPem) LoadOrCreate(string dir, string bindAddress, IReadOnlyList<string>? extraAddresses = null,
        TimeProvider? clock = null, TimeSpan? servingValidity = null)
    {
        var now = (clock ?? TimeProvider.System).GetUtcNow();
        var caCrt = Path.Combine(dir, "ca.crt");
        var caKey = Path.Combine(dir, "ca.key");
        var srvCrt = Path.Combine(dir, "server.crt");
        var srvKey = Path.Combine(dir, "server.key");
        if (!File.Exists(caCrt) || !File.Exists(caKey))
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=svcnet-ca", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            using var ca = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
            WriteSecret(caKey, key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(caCrt, ca.ExportCertificatePem());
            File.Delete(srvCrt);
        }
        string[] sans = ["localhost", "127.0.0.1", bindAddress, .. extraAddresses ?? []];
        if (!File.Exists(srvCrt) || !File.Exists(srvKey) || !Covers(srvCrt, sans) || DueForRenewal(srvCrt, now))
        {
            using var caCert = X509Certificate2.CreateFromPemFile(caCrt, caKey);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=svcnet-apiserver", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in DnsNames)
            {
                san.AddDnsName(name);
            }
            foreach (var ip in sans.Skip(1).Distinct())
            {
                if (IPAddress.TryParse(ip, out var address) && !address.Equals(IPAddress.Any))
                {
                    san.AddIpAddress(address);
                }
            }
            request.CertificateExtensions.Add(san.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            var serial = RandomNumberGenerator.GetBytes(16);
            serial[0] &= 0x7f;
            using var cert = request.Create(caCert, now.AddMinutes(-5), now + (servingValidity ?? ServingValidity), serial);
            WriteSecret(srvKey, key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(srvCrt, cert.ExportCertificatePem());
        }
        var serving = X509Certificate2.CreateFromPemFile(srvCrt, srvKey);
        return (serving, File.ReadAllText(caCrt));
    }

    /// <summary>Past <see cref="RenewAfterFraction"/> of its validity (or already expired).</summary>
    private static bool DueForRenewal(string certPath, DateTimeOffset now)
    {
        using var cert = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
        var notBefore = new DateTimeOffset(cert.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(cert.NotAfter.ToUniversalTime());
        return now >= notBefore + ((notAfter - notBefore) * RenewAfterFraction);
    }

    private static bool Covers(string certPath, string[] sans)
    {
        using var cert = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
        var ext = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (ext is null)
        {
            return false;
        }
        var ips = ext.EnumerateIPAddresses().Select(a => a.ToString()).ToHashSet();
        var names = ext.EnumerateDnsNames().ToHashSet(StringComparer.Ordinal);
        return DnsNames.All(names.Contains) && sans.Skip(1).All(s => !IPAddress.TryParse(s, out var a) || a.Equals(IPAddress.Any) || ips.Contains(a.ToString()));
    }

    /// <summary>Writes a file readable only by its owner (created with 0600, never world-readable in between).</summary>
    public static void WriteSecret(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
