package e2e

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy forwards TCP connections to a target, and cuts the network in one
// of two ways. cut closes every connection and refuses new ones, as a
// router that went away does: both ends learn at once. silence drops every
// byte in both directions and closes nothing, as a dead link does (a cable
// cut upstream, a mobile network gone): each end learns only by its own
// timers.
type proxy struct {
	t      *testing.T
	l      net.Listener
	target string

	silent atomic.Bool // set and cleared under mu; read alone per chunk

	mu    sync.Mutex
	conns map[net.Conn]bool
	down  bool // refusing new connections (cut)
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, l: l, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		l.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		switch {
		case p.down:
			p.mu.Unlock()
			c.Close() // refused while the network is cut
			continue
		case p.silent.Load():
			// The kernel accepted it, but on a dead link the device's
			// CONNECT never reaches the broker and no CONNACK comes back:
			// the connection hangs until the device's connect timeout or
			// the end of the silence.
			p.conns[c] = true
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(nil, c) })
			continue
		}
		p.mu.Unlock()
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, c) })
		p.wg.Go(func() { p.pipe(c, up) })
	}
}

// pipe copies src to dst (nil: nowhere), dropping what it reads while the
// proxy is silent. When src ends it closes both, unless the proxy is
// silent: then the close is lost like every other packet, and unsilence
// closes them.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && dst != nil && !p.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.silent.Load() {
		return
	}
	src.Close()
	delete(p.conns, src)
	if dst != nil {
		dst.Close()
		delete(p.conns, dst)
	}
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// cut closes every connection and refuses new ones for d.
func (p *proxy) cut(d time.Duration) {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
	time.Sleep(d) // the length of the outage
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// silence starts dropping every byte of every connection, in both
// directions, and of the connections made meanwhile; nothing is closed.
func (p *proxy) silence() {
	p.mu.Lock()
	p.silent.Store(true)
	p.mu.Unlock()
}

// unsilence ends the silence. After a long one both ends have given up on
// every connection that crossed it (the broker after 1.5 × the keep-alive,
// the device after its ack or ping timeout), so whatever either sends on
// it next is answered with a reset: unsilence closes them all. A device
// connecting at that moment loses that attempt and makes the next one,
// where a real link's retransmitted SYN might have made it; the
// difference is one back-off.
func (p *proxy) unsilence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.silent.Store(false)
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}
