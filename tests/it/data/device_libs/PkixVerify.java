// Verifies chains with the JDK's own TLS trust manager (TrustManagerFactory
// "PKIX", whose X509TrustManagerImpl runs PKIXValidator: the chain as sent,
// truncated at a trusted certificate, else the CertPathBuilder), at a given
// date, then the JDK's TLS host name check. For chainstorm's differential
// device-model test.
//
// usage: java --add-exports java.base/sun.security.util=ALL-UNNAMED PkixVerify.java < manifest
//   lines: ID CHAIN_PEM CA_PEM UNIX_TIME HOST KEY_PEM (key unused)
// prints: ID VERDICT (ok, unknown_issuer, expired, not_yet_valid, name_mismatch, other(...)).
import java.io.*;
import java.nio.file.*;
import java.security.KeyStore;
import java.security.cert.*;
import java.util.*;
import javax.net.ssl.*;

public class PkixVerify {
    static List<X509Certificate> load(String path) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<X509Certificate> out = new ArrayList<>();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(Paths.get(path)))) {
            for (Certificate c : cf.generateCertificates(in)) out.add((X509Certificate) c);
        }
        return out;
    }

    static String verdict(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CertificateExpiredException) return "expired";
            if (t instanceof CertificateNotYetValidException) return "not_yet_valid";
            if (t instanceof CertPathValidatorException) {
                CertPathValidatorException.Reason r = ((CertPathValidatorException) t).getReason();
                if (r == CertPathValidatorException.BasicReason.EXPIRED) return "expired";
                if (r == CertPathValidatorException.BasicReason.NOT_YET_VALID) return "not_yet_valid";
            }
            if (t instanceof sun.security.provider.certpath.SunCertPathBuilderException) return "unknown_issuer";
        }
        return "other(" + e.getClass().getSimpleName() + ")";
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.trim().split("\\s+");
            if (f.length != 6) continue;
            List<X509Certificate> chain = load(f[1]);
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            for (X509Certificate c : load(f[2])) ks.setCertificateEntry("root" + i++, c);
            PKIXBuilderParameters params = new PKIXBuilderParameters(ks, new X509CertSelector());
            params.setRevocationEnabled(false);
            params.setDate(new Date(Long.parseLong(f[3]) * 1000L));
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(new CertPathTrustManagerParameters(params));
            X509TrustManager tm = (X509TrustManager) tmf.getTrustManagers()[0];
            String v;
            try {
                String auth = chain.get(0).getPublicKey().getAlgorithm().equals("EC") ? "ECDHE_ECDSA" : "ECDHE_RSA";
                tm.checkServerTrusted(chain.toArray(new X509Certificate[0]), auth);
                try {
                    sun.security.util.HostnameChecker.getInstance(sun.security.util.HostnameChecker.TYPE_TLS)
                        .match(f[4], chain.get(0));
                    v = "ok";
                } catch (CertificateException e) {
                    v = "name_mismatch";
                }
            } catch (CertificateException e) {
                v = verdict(e);
            }
            System.out.println(f[0] + " " + v);
        }
    }
}
