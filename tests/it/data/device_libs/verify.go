// Verifies chains with Go's crypto/x509 (Certificate.Verify, as crypto/tls
// calls it), for chainstorm's differential device-model test.
//
// usage: go run verify.go < manifest  (lines: ID CHAIN_PEM CA_PEM UNIX_TIME HOST KEY_PEM)
// prints: ID VERDICT (ok, unknown_issuer, expired, not_yet_valid,
// name_mismatch, other(...)).
package main

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func load(path string) []*x509.Certificate {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			panic(err)
		}
		out = append(out, c)
	}
}

func verdict(err error, at time.Time, leaf *x509.Certificate) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ua):
		return "unknown_issuer"
	case errors.As(err, &he):
		return "name_mismatch"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		// Go's one reason covers both ends of the validity window.
		if at.Before(ci.Cert.NotBefore) {
			return "not_yet_valid"
		}
		return "expired"
	default:
		return "other(" + strings.ReplaceAll(err.Error(), " ", "_") + ")"
	}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 6 {
			continue
		}
		chain := load(f[1])
		roots := x509.NewCertPool()
		for _, c := range load(f[2]) {
			roots.AddCert(c)
		}
		mids := x509.NewCertPool()
		for _, c := range chain[1:] {
			mids.AddCert(c)
		}
		secs, _ := strconv.ParseInt(f[3], 10, 64)
		at := time.Unix(secs, 0)
		_, err := chain[0].Verify(x509.VerifyOptions{
			DNSName:       f[4],
			Roots:         roots,
			Intermediates: mids,
			CurrentTime:   at,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		fmt.Println(f[0], verdict(err, at, chain[0]))
	}
}
