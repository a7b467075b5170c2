// Package freeport picks loopback TCP ports for code that must name a
// port before the program that listens on it starts: a broker in another
// process, a cluster whose nodes need each other's addresses (natsbroker
// uses it for a loopback listener given as port 0).
//
// Asking the kernel (listen on port 0, close, hand the port on) is racy on
// a busy machine: the kernel gives the same range to every outgoing
// connection's local end, so another test's client may take the port
// before the program binds it (CI saw a NATS node fail to start that way).
// Ports here come from below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), where neither a port-0 listener nor a
// client's local end ever lands. Each one is checked by binding it, and a
// process never hands out the same port twice. Two processes picking at
// the same moment can still collide; they start at random places in the
// range, which makes that rare, and a caller that can start again should.
package freeport
