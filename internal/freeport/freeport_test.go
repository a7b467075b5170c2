package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestPort(t *testing.T) {
	eph := readEphemeralLow()
	seen := map[int]bool{}
	for range 50 {
		p, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if eph-low >= 1000 && (p < low || p >= eph) {
			t.Errorf("port %d outside [%d, %d): the kernel may give it to a client", p, low, eph)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("listen on port %d: %v", p, err)
		}
		l.Close()
	}
}

func TestTakenPortSkipped(t *testing.T) {
	p, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	// Hold the port that comes next; Port must pass over it.
	mu.Lock()
	held := next
	mu.Unlock()
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(held)))
	if err != nil {
		t.Skipf("port %d taken already: %v", held, err)
	}
	defer l.Close()
	q, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	if q == held || q == p {
		t.Errorf("Port() = %d; %d is held and %d given", q, held, p)
	}
}

func TestPickRange(t *testing.T) {
	for _, c := range []struct{ eph, lo, hi int }{
		{32768, low, 32768},
		{10000, 50000, 65536},
		{low + 999, 50000, 65536},
	} {
		if got := pickRange(c.eph); got != [2]int{c.lo, c.hi} {
			t.Errorf("pickRange(%d) = %v, want [%d %d]", c.eph, got, c.lo, c.hi)
		}
	}
}
