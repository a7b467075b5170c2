package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// low is the lowest port handed out: below it live well-known services.
const low = 20000

var (
	mu     sync.Mutex
	given  = map[int]bool{}
	next   int
	bounds [2]int // [low, high): the range picked from; zero until first use
)

// Port returns a loopback TCP port that was free when checked and that
// this process has not handed out before.
func Port() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	if bounds[1] == 0 {
		bounds = pickRange(readEphemeralLow())
		next = bounds[0] + rand.IntN(bounds[1]-bounds[0])
	}
	n := bounds[1] - bounds[0]
	for range n {
		p := next
		next++
		if next >= bounds[1] {
			next = bounds[0]
		}
		if given[p] || !free(p) {
			continue
		}
		given[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("freeport: no free port in %d-%d", bounds[0], bounds[1]-1)
}

// Addr returns "127.0.0.1:PORT" for a port from Port.
func Addr() (string, error) {
	p, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// pickRange returns the range below the ephemeral range starting at eph,
// or, when that leaves too few ports, the range above 50000 (a kernel
// whose ephemeral range starts low is unusual; ports there are then
// checked and may be raced, as with port 0).
func pickRange(eph int) [2]int {
	if eph-low >= 1000 {
		return [2]int{low, eph}
	}
	return [2]int{50000, 65536}
}

// readEphemeralLow returns the first port of the kernel's ephemeral
// range, or Linux's default when it cannot be read.
func readEphemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	p, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return p
}

// free reports whether p can be bound on 127.0.0.1 now.
func free(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	return l.Close() == nil
}
