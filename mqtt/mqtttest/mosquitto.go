package mqtttest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"linli/internal/freeport"
)

// MosquittoOpts configures Mosquitto. A nil *MosquittoOpts is the zero
// value: no persistence, no extra configuration.
type MosquittoOpts struct {
	// Persistence keeps sessions, queued messages and retained messages in
	// a directory of the test, so that Stop followed by Start keeps them, as
	// a broker restart in the field does.
	Persistence bool
	// Config holds extra lines for mosquitto.conf, written after the
	// listener and before nothing else (e.g. "max_queued_messages 10").
	Config []string
}

// MosquittoServer is a mosquitto process started by Mosquitto.
type MosquittoServer struct {
	t    testing.TB
	bin  string
	conf string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	out    *lockedBuffer
}

// requireMosquitto reports whether the environment demands a real mosquitto.
func requireMosquitto() bool {
	return os.Getenv("CI") != "" || os.Getenv("LINLI_REQUIRE_MOSQUITTO") == "1"
}

// MosquittoPath returns the mosquitto binary, looked up in PATH and then in
// /usr/sbin and /usr/local/sbin, or "" when it is not installed.
func MosquittoPath() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Mosquitto starts mosquitto on a free 127.0.0.1 port with a configuration
// written to a temporary directory (anonymous clients allowed), waits until
// the port accepts connections and returns the running server. t.Cleanup
// stops it.
//
// When mosquitto is not installed, Mosquitto calls t.Skip, or t.Fatal when
// the environment variable CI is set or LINLI_REQUIRE_MOSQUITTO=1.
func Mosquitto(t testing.TB, opts *MosquittoOpts) *MosquittoServer {
	t.Helper()
	if opts == nil {
		opts = new(MosquittoOpts)
	}
	bin := MosquittoPath()
	if bin == "" {
		const msg = "mqtttest: mosquitto not installed: apt-get install mosquitto"
		if requireMosquitto() {
			t.Fatal(msg + " (required because CI or LINLI_REQUIRE_MOSQUITTO=1 is set)")
		}
		t.Skip(msg)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("mqtttest: pick a port: %v", err)
	}
	dir := t.TempDir()
	var conf bytes.Buffer
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", port)
	fmt.Fprintf(&conf, "allow_anonymous true\n")
	if os.Geteuid() == 0 {
		// Started as root, mosquitto switches to user "mosquitto", which
		// cannot write the test's temporary directory.
		fmt.Fprintf(&conf, "user root\n")
	}
	fmt.Fprintf(&conf, "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n")
	if opts.Persistence {
		data := filepath.Join(dir, "data")
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatalf("mqtttest: %v", err)
		}
		fmt.Fprintf(&conf, "persistence true\npersistence_location %s/\n", data)
	}
	for _, l := range opts.Config {
		fmt.Fprintln(&conf, l)
	}
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, conf.Bytes(), 0o600); err != nil {
		t.Fatalf("mqtttest: write mosquitto.conf: %v", err)
	}
	m := &MosquittoServer{t: t, bin: bin, conf: path, port: port, out: new(lockedBuffer)}
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() || testing.Verbose() {
			if s := m.out.String(); s != "" {
				t.Logf("mosquitto output:\n%s", s)
			}
		}
	})
	m.Start()
	return m
}

// URL returns the broker's URL, "tcp://127.0.0.1:PORT". It stays the same
// across Stop and Start.
func (m *MosquittoServer) URL() string { return "tcp://" + m.Addr() }

// Addr returns the broker's "127.0.0.1:PORT".
func (m *MosquittoServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// Stop stops the broker with SIGTERM (so that it writes its persistence
// file) and waits for it to exit. Stopping a stopped broker does nothing.
func (m *MosquittoServer) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// Start starts the broker again on the same port after Stop, and waits
// until it accepts connections. Starting a running broker does nothing.
func (m *MosquittoServer) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout = m.out
	cmd.Stderr = m.out
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("mqtttest: start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	m.cmd, m.exited = cmd, exited

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.Addr(), time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-exited:
			m.cmd = nil
			m.t.Fatalf("mqtttest: mosquitto exited at start: %s", m.out.String())
		case <-time.After(20 * time.Millisecond): // polling a process we do not control
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mqtttest: mosquitto did not accept on %s within 10s: %v\n%s", m.Addr(), err, m.out.String())
		}
	}
}

// freePort picks a loopback port from freeport: below the kernel's
// ephemeral range, so no client's local end takes it before mosquitto
// binds it.
func freePort() (int, error) { return freeport.Port() }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
