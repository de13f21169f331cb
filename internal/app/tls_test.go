package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/config"
)

// writeCertificate writes a self-signed certificate for 127.0.0.1 and its
// key into dir and returns the certificate.
func writeCertificate(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "scimgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// Both listeners serve HTTPS from the certificate files; the CLI's admin
// client expects https on the admin listener when TLS is configured.
func TestTLSOnBothListeners(t *testing.T) {
	certFile, keyFile, cert := writeCertificate(t, t.TempDir())
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	s := startServer(t, serverOptions{scheme: "https", client: client, config: func(c *config.Config) {
		c.Listen.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	}})
	acme := s.newCredentials("acme") // through the admin API over TLS
	token, _ := s.token(acme.clientID, acme.clientSecret)
	if r := s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer "+token); r.status != http.StatusOK {
		t.Errorf("gateway over TLS: %d", r.status)
	}
	for _, base := range []string{s.public, s.admin} {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(strings.Replace(base, "https://", "http://", 1) + "/healthz")
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				t.Errorf("%s answers plain HTTP", base)
			}
			resp.Body.Close()
		}
	}
}
