package broker

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultDeviceQueue is the default of Options.DeviceQueue.
const DefaultDeviceQueue = 256

// connectWait is how long a new connection may take to send CONNECT.
const connectWait = 20 * time.Second

// queues gives each connection a send queue of its account's size.
//
// mochi allocates a client's queue whole when it accepts the connection,
// before it reads CONNECT, with the size in the server's capabilities,
// one size for all: at the default 8,192 places that is 64 KiB for every
// meter box, which takes a command now and then and firmware blocks a
// window (64) at a time, and the garbage collector scans every place of
// every queue. So the listener reads CONNECT first, takes the size from
// the account's role, and hands mochi the connection with CONNECT put
// back in front; the capabilities hold that size while mochi creates the
// client (which it does before its first read of the connection) and the
// server-wide size again after, one connection at a time.
type queues struct {
	mu       sync.Mutex // serialises creations of clients
	caps     *mqtt.Capabilities
	accounts Accounts
	device   int32 // a device's queue
	other    int32 // everybody else's (the capabilities' own)
	maxSize  int   // of a CONNECT packet
	log      *slog.Logger
}

// establish reads conn's CONNECT and hands conn to mochi's establish
// with the queue of the account it names. A CONNECT that does not parse
// goes to mochi as it came (it refuses it, saying why) with the
// server-wide queue.
func (q *queues) establish(id string, conn net.Conn, establish listeners.EstablishFn) error {
	head, user, err := readConnect(conn, q.maxSize)
	if err != nil && head == nil {
		_ = conn.Close()
		return fmt.Errorf("broker: before CONNECT: %w", err)
	}
	size := q.other
	if err == nil {
		if acc, ok := q.accounts.Lookup(user); ok && acc.Role == RoleDevice {
			size = q.device
		}
	}
	rc := &replayConn{Conn: conn, head: bytes.NewReader(head), read: make(chan struct{})}
	ended := make(chan struct{})
	q.mu.Lock()
	q.caps.MaximumClientWritesPending = size
	go func() {
		select {
		case <-rc.read: // mochi made the client and reads its CONNECT
		case <-ended:
		case <-time.After(5 * time.Second):
			q.log.Error("mochi did not read a connection's CONNECT: send queues may have the wrong size", "listener", id)
		}
		q.caps.MaximumClientWritesPending = q.other
		q.mu.Unlock()
	}()
	defer close(ended)
	return establish(id, rc) // the connection's life, on this goroutine
}

// readConnect reads the first packet of conn. It returns its bytes and,
// when it is a CONNECT that parses, the user name it gives; head is nil
// when nothing could be read.
func readConnect(conn net.Conn, maxSize int) (head []byte, user string, err error) {
	_ = conn.SetReadDeadline(time.Now().Add(connectWait))
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	r := &recorder{r: conn}
	b, err := r.ReadByte()
	if err != nil {
		return nil, "", err
	}
	var fh packets.FixedHeader
	if err := fh.Decode(b); err != nil || fh.Type != packets.Connect {
		return r.buf, "", fmt.Errorf("broker: first packet is not CONNECT")
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return r.buf, "", err
	}
	if n > maxSize {
		return r.buf, "", fmt.Errorf("broker: CONNECT of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return r.buf, "", err
	}
	pk := packets.Packet{FixedHeader: fh}
	if err := pk.ConnectDecode(body); err != nil {
		return r.buf, "", err
	}
	return r.buf, string(pk.Connect.Username), nil
}

// recorder reads from r and keeps what it read.
type recorder struct {
	r   io.Reader
	buf []byte
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

func (c *recorder) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}

// replayConn is a connection whose first bytes are head, already read
// from it; its first Read closes read.
type replayConn struct {
	net.Conn
	head *bytes.Reader
	read chan struct{}
	once sync.Once
}

func (c *replayConn) Read(p []byte) (int, error) {
	c.once.Do(func() { close(c.read) })
	if c.head.Len() > 0 {
		return c.head.Read(p)
	}
	return c.Conn.Read(p)
}
