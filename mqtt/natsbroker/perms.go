package natsbroker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"linli/mqtt/broker"
)

// Subject returns the NATS subject of an MQTT topic or filter, as NATS's
// MQTT listener maps them: levels joined by "." instead of "/", "+" as "*"
// and a final "#" as ">". ok is false for a topic NATS cannot express as
// one subject: an empty level (a leading, trailing or double "/"), or a
// level holding ".", "*", ">" or white space.
func Subject(topic string) (subject string, ok bool) {
	levels := strings.Split(topic, "/")
	for i, l := range levels {
		switch {
		case l == "+":
			levels[i] = "*"
		case l == "#" && i == len(levels)-1:
			levels[i] = ">"
		case l == "" || strings.ContainsAny(l, ".*> \t\r\n#+"):
			return "", false
		}
	}
	return strings.Join(levels, "."), true
}

// subjects returns the NATS subjects of MQTT filters. A filter "a/#" also
// matches "a" in MQTT, so it becomes both "a.>" and "a".
func subjects(filters []string) ([]string, error) {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, f := range filters {
		s, ok := Subject(f)
		if !ok {
			return nil, fmt.Errorf("natsbroker: topic %q has no NATS subject", f)
		}
		add(s)
		if p, ok := strings.CutSuffix(s, ".>"); ok {
			add(p)
		}
	}
	return out, nil
}

// Permissions returns the NATS permissions that enforce mqtt/broker's ACL
// (broker.Rules) for acc: publish and subscribe allow-lists of subjects.
// nil means everything (the hub and admins). An account whose topics NATS
// cannot express (an id holding "." for instance) gets permissions that
// allow nothing, and an error saying why.
//
// NATS's MQTT listener itself subscribes on "$MQTT.sub.>" for a client's
// QoS 1 subscriptions and stores QoS 1 messages through its internal
// JetStream client; neither needs a permission of the user in the
// nats-server we use (2.15; a subscribe deny on "$MQTT.sub.>" would break
// QoS 1). NATS clients (nats.go, JetStream) of the hub and admin roles may
// use every subject, "$JS.API.>" included; the other roles only theirs.
func Permissions(acc broker.Account) (*server.Permissions, error) {
	pub, sub, all := broker.Rules(acc)
	if all {
		return nil, nil
	}
	none := &server.Permissions{
		Publish:   &server.SubjectPermission{Deny: []string{">"}},
		Subscribe: &server.SubjectPermission{Deny: []string{">"}},
	}
	if len(pub) == 0 && len(sub) == 0 {
		return none, fmt.Errorf("natsbroker: account %q (role %q) may do nothing", acc.ID, acc.Role)
	}
	ps, err := subjects(pub)
	if err != nil {
		return none, fmt.Errorf("natsbroker: account %q: %w", acc.ID, err)
	}
	ss, err := subjects(sub)
	if err != nil {
		return none, fmt.Errorf("natsbroker: account %q: %w", acc.ID, err)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: ps},
		Subscribe: &server.SubjectPermission{Allow: ss},
	}, nil
}
