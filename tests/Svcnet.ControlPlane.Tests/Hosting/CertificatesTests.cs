using System.Security.Cryptography.X509Certificates;
using Svcnet.ControlPlane.Hosting;
using Svcnet.Testing;

namespace Svcnet.ControlPlane.Tests.Hosting;

/// <summary>The serving certificate is issued again at start once it is past 80 % of its validity, signed by the same CA.</summary>
public sealed class CertificatesTests
{
    [Fact]
    public void The_serving_certificate_is_renewed_inside_its_renewal_window_and_kept_before_it()
    {
        var dir = Directory.CreateTempSubdirectory("svcnet-certs-").FullName;
        try
        {
            var clock = new ManualClock();
            var validity = TimeSpan.FromHours(10);
            var (first, ca) = Certificates.LoadOrCreate(dir, "127.0.0.1", clock: clock, servingValidity: validity);
            using (first)
            {
                // 7 h of 10: before the window, the same certificate.
                clock.Advance(TimeSpan.FromHours(7));
                var (same, _) = Certificates.LoadOrCreate(dir, "127.0.0.1", clock: clock, servingValidity: validity);
                using (same)
                {
                    Assert.Equal(first.SerialNumber, same.SerialNumber);
                }

                // 9 h of 10: inside the window, a new one valid 10 h from now, from the same CA (clients keep trusting it).
                clock.Advance(TimeSpan.FromHours(2));
                var (renewed, caAfter) = Certificates.LoadOrCreate(dir, "127.0.0.1", clock: clock, servingValidity: validity);
                using (renewed)
                {
                    Assert.NotEqual(first.SerialNumber, renewed.SerialNumber);
                    Assert.True(renewed.NotAfter.ToUniversalTime() > first.NotAfter.ToUniversalTime().AddHours(8));
                    Assert.Equal(ca, caAfter);
                    using var caCert = X509Certificate2.CreateFromPem(ca);
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(caCert);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    chain.ChainPolicy.VerificationTime = clock.GetUtcNow().UtcDateTime;
                    Assert.True(chain.Build(renewed));
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
