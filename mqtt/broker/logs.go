package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
)

// mochiHandler is the slog.Handler mochi logs through. It maps mochi's
// lines to the project's levels and wording: what happens at every start,
// stop and ordinary disconnect is Debug, packet dumps are dropped, and
// mochi's own errors stay errors. The broker's own lines (connects refused,
// ACL denials, "broker listening") do not pass through it.
type mochiHandler struct {
	next slog.Handler
}

func (h *mochiHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *mochiHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &mochiHandler{next: h.next.WithAttrs(as)}
}

func (h *mochiHandler) WithGroup(name string) slog.Handler {
	return &mochiHandler{next: h.next.WithGroup(name)}
}

// routine are mochi's lines of every start and stop.
var routine = map[string]bool{
	"added hook":                 true,
	"attached listener":          true,
	"mochi mqtt starting":        true,
	"mochi mqtt server started":  true,
	"gracefully stopping server": true,
	"mochi mqtt server stopped":  true,
	"stopping hook":              true,
	"system event loop started":  true,
	"system event loop halted":   true,
}

func (h *mochiHandler) Handle(ctx context.Context, r slog.Record) error {
	level, msg := r.Level, r.Message
	var errText string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			if e, ok := a.Value.Any().(error); ok {
				errText = e.Error()
			} else {
				errText = a.Value.String()
			}
			if ordinaryEnd(a.Value.Any()) {
				errText = ""
			}
			return false
		}
		return true
	})
	switch {
	case routine[msg]:
		level = slog.LevelDebug
	case msg == "failed to get data" && strings.Contains(errText, "key not found"):
		// Nothing stored yet ($SYS info on a first start): not an error.
		level, msg = slog.LevelDebug, "store: nothing stored yet"
	case msg == "":
		// A listener's connection ended (mochi's attachClient error).
		// Refused connects are logged by the auth hook already.
		msg = "client connection ended"
		level = slog.LevelDebug
		if errText != "" && !refusal(errText) {
			level = slog.LevelInfo
		}
	case msg == "error processing packet":
		msg = "client packet refused"
		level = slog.LevelDebug
		if errText != "" && !refusal(errText) {
			level = slog.LevelInfo
		}
	}
	if level < r.Level && !h.next.Enabled(ctx, level) {
		return nil
	}
	out := slog.NewRecord(r.Time, level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "pk" && a.Key != "packet" { // packet dumps
			out.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, out)
}

// ordinaryEnd reports whether v, an "error" attribute, is how a connection
// normally ends: the peer closed it, or the broker did while stopping.
func ordinaryEnd(v any) bool {
	err, ok := v.(error)
	if !ok {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	s := err.Error()
	for _, o := range []string{"connection not open", "use of closed network connection", "connection reset by peer", "broken pipe", "client disconnected", "disconnect"} {
		if strings.Contains(s, o) {
			return true
		}
	}
	return false
}

// refusal reports whether a connection ended with a reason the auth hook
// gave (and logged).
func refusal(errText string) bool {
	for _, o := range []string{"not authori", "bad username or password", "client identifier not valid", "server unavailable"} {
		if strings.Contains(strings.ToLower(errText), o) {
			return true
		}
	}
	return false
}
