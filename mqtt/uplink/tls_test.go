package uplink

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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

type testPKI struct {
	caFile, certFile, keyFile string
	server                    tls.Certificate
	pool                      *x509.CertPool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newPKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA.
func newPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "linli test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &testPKI{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "dev.pem"), keyFile: filepath.Join(dir, "dev.key")}
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	cliDER, cliKey := issue(2, "mb-0008", x509.ExtKeyUsageClientAuth, nil)
	writePEM(t, p.certFile, "CERTIFICATE", cliDER)
	kb, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.keyFile, "EC PRIVATE KEY", kb)
	srvDER, srvKey := issue(3, "broker", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	return p
}

// tlsBroker is a mochi broker on a TLS listener that requires a client
// certificate signed by the test CA.
func tlsBroker(t *testing.T, p *testPKI) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := mochi.New(&mochi.Options{Logger: testLog(t)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tls", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "ssl://" + ln.Addr().String()
}

func TestTLSClientCertificate(t *testing.T) {
	p := newPKI(t)
	url := tlsBroker(t, p)
	const dev = "mb-0008"
	db, ob := openStore(t, "")
	putEvent(t, ob, dev, 1)

	// Without a client certificate the broker refuses; the uplink retries.
	clk := &fakeClock{now: time.Unix(1e9, 0), asked: make(chan time.Duration, 10)}
	o := testOptions(t, url, dev)
	o.CAFile = p.caFile
	o.Clock = clk
	u := newUplink(t, db, ob, o)
	stop := start(t, u)
	for range 2 {
		select {
		case <-clk.asked:
		case <-time.After(10 * time.Second):
			t.Fatal("no retry without a client certificate")
		}
	}
	stop()
	if s := u.Stats(); s.Connected || !strings.Contains(s.LastError, "certificate") || s.Published != 0 {
		t.Errorf("stats without client cert = %+v, want not connected with an error", s)
	}

	// With CA and client certificate it connects and delivers.
	o = testOptions(t, url, dev)
	o.CAFile, o.CertFile, o.KeyFile = p.caFile, p.certFile, p.keyFile
	u = newUplink(t, db, ob, o)
	start(t, u)
	waitStats(t, u, "delivered over TLS", func(s Stats) bool { return s.Connected && s.Published == 1 && s.QueueDepth == 0 })

	// A wrong CA fails the handshake.
	other := newPKI(t)
	o = testOptions(t, url, dev)
	o.CAFile, o.CertFile, o.KeyFile = other.caFile, p.certFile, p.keyFile
	o.Clock = &fakeClock{now: time.Unix(1e9, 0), asked: make(chan time.Duration, 10)}
	u = newUplink(t, db, ob, o)
	stop = start(t, u)
	waitStats(t, u, "certificate error", func(s Stats) bool { return s.LastError != "" })
	stop()
	if s := u.Stats(); s.Connected || !strings.Contains(s.LastError, "unknown authority") {
		t.Errorf("stats = %+v, want a refused broker certificate from an unknown CA", s)
	}
}
