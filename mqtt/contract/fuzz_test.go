package contract_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"linli/mqtt/contract"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// is a valid message: it encodes again, and the encoding decodes on the
// same topic to an equal message that encodes to the same bytes.
//
// The seed corpus is the golden files on their topics and without a topic.
func FuzzDecode(f *testing.F) {
	for _, g := range golden {
		b, err := os.ReadFile(filepath.Join("testdata", g.file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(g.topic, b)
		f.Add("", b)
	}
	f.Add(contract.DeviceTopic("mb-0001", "event"), []byte(`{"v":1,"type":"event"}`))
	f.Add("", []byte(`{"v":1,"type":"request","id":"x","op":"y","body":{ "a" : [1, 2] }}`))
	f.Add("linli/v1/x", []byte(`null`))

	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		m, err := contract.Decode(topic, payload)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned a message with error %v", err)
			}
			return
		}
		b1, err := contract.Encode(m)
		if errors.Is(err, contract.ErrTooLarge) {
			// JSON escapes ("<" as \u003c, invalid UTF-8 as U+FFFD) can
			// make the encoding of an accepted payload near MaxPayload
			// larger than the payload.
			return
		}
		if err != nil {
			t.Fatalf("Decode accepted %q on %q but Encode fails: %v", payload, topic, err)
		}
		m2, err := contract.Decode(topic, b1)
		if err != nil {
			t.Fatalf("Decode of the re-encoded %q on %q: %v", b1, topic, err)
		}
		if diff := cmp.Diff(m, m2, cmpOpts); diff != "" {
			t.Fatalf("round trip of %q changed the message (-first +second):\n%s", payload, diff)
		}
		b2, err := contract.Encode(m2)
		if err != nil {
			t.Fatalf("Encode after round trip: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n%s\n%s", b1, b2)
		}
	})
}
