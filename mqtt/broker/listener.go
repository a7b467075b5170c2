package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// DefaultWriteTimeout is the default of Options.WriteTimeout.
const DefaultWriteTimeout = 10 * time.Second

// writeChunk is how much of a write must reach the peer within one write
// timeout: the timeout is about progress, so a large packet to a slow but
// working link is not cut.
const writeChunk = 16 << 10

// listener is a TCP (or TLS) listener for mochi whose connections do not
// let a client that stops reading hold up everybody else.
//
// mochi v2.7.9 writes to a client while holding that client's lock, and
// every publish to the client takes the same lock: when the client stops
// reading and the kernel's send buffer is full, the write blocks, and so
// does every publisher of a topic the client subscribes to (a device's
// PUBACK, the hub's alerts to all workers). mochi's only bound is the
// keep-alive deadline, which each packet the client sends moves on, so a
// client that keeps pinging but never reads blocks them for ever. Here a
// write that moves no byte for the timeout closes the connection (the
// client's session stays, for its reconnect) and the next writes fail at
// once; mochi's keep-alive deadline is kept for reading only.
type listener struct {
	id, address string
	tls         *tls.Config
	timeout     time.Duration
	stalled     func(remote string) // counts and logs a connection closed for stalling
	queues      *queues             // sizes send queues by account; nil: mochi's one size
	log         *slog.Logger

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{} // accepted, until their connection ends
	closed atomic.Bool
}

var _ listeners.Listener = (*listener)(nil)

func (l *listener) ID() string       { return l.id }
func (l *listener) Protocol() string { return "tcp" }

func (l *listener) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

func (l *listener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	return nil
}

func (l *listener) Serve(establish listeners.EstablishFn) {
	for !l.closed.Load() {
		raw, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		// A connection accepted while Close runs would outlive its
		// closeClients and keep mochi's Close waiting for it: Close
		// closes every connection still tracked here.
		l.mu.Lock()
		if l.closed.Load() {
			l.mu.Unlock()
			_ = raw.Close()
			return
		}
		if l.conns == nil {
			l.conns = map[net.Conn]struct{}{}
		}
		l.conns[raw] = struct{}{}
		l.mu.Unlock()
		var conn net.Conn = &stallConn{Conn: raw, timeout: l.timeout, stalled: func() { l.stalled(raw.RemoteAddr().String()) }}
		if l.tls != nil {
			conn = tls.Server(conn, l.tls)
		}
		go func() {
			defer func() {
				l.mu.Lock()
				delete(l.conns, raw)
				l.mu.Unlock()
			}()
			var err error
			if l.queues != nil {
				err = l.queues.establish(l.id, conn, establish)
			} else {
				err = establish(l.id, conn)
			}
			if err != nil {
				l.log.Debug("client connection ended", "listener", l.id, "error", err)
			}
		}()
	}
}

func (l *listener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	first := l.closed.CompareAndSwap(false, true)
	l.mu.Unlock()
	if first {
		closeClients(l.id)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		_ = l.ln.Close()
	}
	for c := range l.conns {
		_ = c.Close() // a client still connecting, or one closeClients did not know yet
	}
}

// stallConn is a connection whose writes fail, and close it, when the peer
// takes no byte for timeout.
type stallConn struct {
	net.Conn
	timeout time.Duration
	stalled func()
	once    sync.Once
}

// SetDeadline sets the read deadline only: mochi sets it from the
// client's keep-alive, which is about what the client sends; writes have
// their own timeout.
func (c *stallConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// SetWriteDeadline is ignored: see Write.
func (c *stallConn) SetWriteDeadline(time.Time) error { return nil }

func (c *stallConn) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		end := min(len(p), n+writeChunk)
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
		m, err := c.Conn.Write(p[n:end])
		n += m
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.once.Do(c.stalled)
				_ = c.Conn.Close()
				return n, fmt.Errorf("broker: client took nothing for %v: %w", c.timeout, err)
			}
			return n, err
		}
	}
	return n, nil
}
