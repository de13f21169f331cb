package tlsreload

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, cn string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

func servedCN(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

func TestReloadWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "first")
	r, err := New(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "https://" + ln.Addr().String()
	if cn := servedCN(t, url); cn != "first" {
		t.Fatalf("served %q", cn)
	}
	time.Sleep(5 * time.Millisecond) // distinct mtime
	writePair(t, dir, "second")
	time.Sleep(5 * time.Millisecond)
	if cn := servedCN(t, url); cn != "second" {
		t.Fatalf("after renewal served %q", cn)
	}
	// A broken renewal keeps the last good certificate.
	os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("garbage"), 0o600)
	time.Sleep(5 * time.Millisecond)
	if cn := servedCN(t, url); cn != "second" {
		t.Fatalf("after a broken renewal served %q", cn)
	}
}

func TestNewFailsOnBadFiles(t *testing.T) {
	if _, err := New("/nonexistent/cert.pem", "/nonexistent/key.pem", 0, nil); err == nil {
		t.Fatal("missing files accepted")
	}
}
