package natsbroker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// logger adapts nats-server's Logger to slog. NATS tells a lot at Notice
// level (every listener, the JetStream banner, each Raft election), so
// notices go to Debug. Warnings and errors keep their level, with the
// exceptions in demote: what a node logs in normal operation (a clean
// stop, a client failing over from another node) and what is logged once
// already by us (a refused login, by auth).
type logger struct {
	log *slog.Logger

	mu        sync.Mutex
	lastFatal string
}

// fatal returns the last message NATS logged as fatal, or "".
func (l *logger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastFatal
}

// demote maps a fragment of a NATS warning or error to the level it is
// logged at instead.
var demote = []struct {
	frag  string
	level slog.Level
}{
	{"authentication error", slog.LevelDebug},                           // auth logs the refusal
	{"Violation", slog.LevelWarn},                                       // a client's forbidden publish or subscribe
	{"Metalayer blocking snapshot", slog.LevelDebug},                    // every clean stop
	{"store is closed", slog.LevelDebug},                                // snapshots racing a clean stop
	{"system account not setup", slog.LevelDebug},                       // a raft group electing its leader as the node stops (its eventing is gone)
	{"started with the same client ID", slog.LevelInfo},                 // an MQTT client failed over or reconnected
	{"Waiting for routing to be established", slog.LevelDebug},          // a cluster starting
	{"has not established contact with a meta leader", slog.LevelDebug}, // a cluster starting
	{"Error trying to connect to route", slog.LevelDebug},               // a peer not up yet, or down (NATS retries)
	{"stream replicas mismatch", slog.LevelInfo},                        // nodes starting together, counted mid-election
	{"unable to connect", slog.LevelWarn},                               // a client refused while JetStream settles; it retries
	{"Error flushing", slog.LevelInfo},                                  // a peer or client gone mid-write (a peer's clean stop)
}

func (l *logger) logf(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if level < slog.LevelWarn && !l.log.Enabled(ctx, level) {
		return
	}
	msg := fmt.Sprintf(format, v...)
	if level >= slog.LevelWarn {
		for _, d := range demote {
			if strings.Contains(msg, d.frag) {
				level = d.level
				break
			}
		}
	}
	l.log.Log(ctx, level, msg)
}

// Noticef implements server.Logger.
func (l *logger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Warnf implements server.Logger.
func (l *logger) Warnf(format string, v ...any) { l.logf(slog.LevelWarn, format, v) }

// Fatalf implements server.Logger. It does not exit: the node stops itself.
func (l *logger) Fatalf(format string, v ...any) {
	l.mu.Lock()
	l.lastFatal = fmt.Sprintf(format, v...)
	l.mu.Unlock()
	l.logf(slog.LevelError, format, v)
}

// Errorf implements server.Logger.
func (l *logger) Errorf(format string, v ...any) { l.logf(slog.LevelError, format, v) }

// Debugf implements server.Logger (it is off: SetLoggerV2 debug false).
func (l *logger) Debugf(format string, v ...any) { l.logf(slog.LevelDebug-4, format, v) }

// Tracef implements server.Logger (off).
func (l *logger) Tracef(format string, v ...any) { l.logf(slog.LevelDebug-8, format, v) }
