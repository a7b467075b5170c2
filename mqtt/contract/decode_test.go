package contract_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"linli/mqtt/contract"
)

// payload returns the golden file name with edit applied to its top-level
// fields: a nil value deletes the field.
func payload(t *testing.T, file string, edit map[string]any) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range edit {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecode(t *testing.T) {
	ev := contract.DeviceTopic("mb-0001", "event")
	huge := []byte(`{"v":1,"type":"wish","id":"w","text":"` + strings.Repeat("a", contract.MaxPayload) + `"}`)
	tests := []struct {
		name    string
		topic   string
		file    string         // golden file to start from, or ""
		edit    map[string]any // edits to the golden file
		raw     string         // the payload when file is ""
		wantErr error          // nil: must decode
	}{
		{name: "event", topic: ev, file: "event.json"},
		{name: "no topic check", topic: "", file: "event.json"},
		{name: "rating on report topic", topic: contract.DeviceTopic("kiosk-01", "report"), file: "rating.json"},
		{name: "unknown fields ignored", topic: ev, file: "event.json", edit: map[string]any{"future": 1}},

		{name: "not json", topic: ev, raw: "hello", wantErr: contract.ErrMalformed},
		{name: "empty", topic: ev, raw: "", wantErr: contract.ErrMalformed},
		{name: "array", topic: ev, raw: `[1,2]`, wantErr: contract.ErrMalformed},
		{name: "truncated", topic: ev, raw: `{"v":1,"type":"event","id":"x"`, wantErr: contract.ErrMalformed},
		{name: "wrong field type", topic: ev, file: "event.json", edit: map[string]any{"seq": "31"}, wantErr: contract.ErrMalformed},
		{name: "type not a string", topic: ev, raw: `{"v":1,"type":7}`, wantErr: contract.ErrMalformed},
		{name: "trailing garbage", topic: ev, raw: `{"v":1,"type":"death","device":"mb-0001"} x`, wantErr: contract.ErrMalformed},

		{name: "version 2", topic: ev, file: "event.json", edit: map[string]any{"v": 2}, wantErr: contract.ErrVersion},
		{name: "no version", topic: ev, file: "event.json", edit: map[string]any{"v": nil}, wantErr: contract.ErrVersion},
		{name: "null", topic: ev, raw: "null", wantErr: contract.ErrVersion},

		{name: "unknown type", topic: ev, file: "event.json", edit: map[string]any{"type": "alarm"}, wantErr: contract.ErrType},
		{name: "no type", topic: "", file: "event.json", edit: map[string]any{"type": nil}, wantErr: contract.ErrType},
		{name: "event on telemetry topic", topic: contract.DeviceTopic("mb-0001", "telemetry"), file: "event.json", wantErr: contract.ErrType},
		{name: "request on response topic", topic: contract.ResponseTopic("wang"), file: "request.json", wantErr: contract.ErrType},
		{name: "alert on area topic", topic: contract.AreaTopic("c", "notices"), file: "alert.json", wantErr: contract.ErrType},
		{name: "json on firmware topic", topic: contract.DeviceTopic("mb-0001", "fw"), file: "event.json", wantErr: contract.ErrType},

		{name: "oversized", topic: "", raw: string(huge), wantErr: contract.ErrTooLarge},

		{name: "event without id", topic: ev, file: "event.json", edit: map[string]any{"id": nil}, wantErr: contract.ErrMissing},
		{name: "event without seq", topic: ev, file: "event.json", edit: map[string]any{"seq": 0}, wantErr: contract.ErrMissing},
		{name: "event without channel", topic: ev, file: "event.json", edit: map[string]any{"channel": ""}, wantErr: contract.ErrMissing},
		{name: "event without device", topic: "", file: "event.json", edit: map[string]any{"device": nil}, wantErr: contract.ErrMissing},
		{name: "birth without device", topic: "", file: "birth.json", edit: map[string]any{"device": nil}, wantErr: contract.ErrMissing},
		{name: "telemetry without seq", topic: "", file: "telemetry.json", edit: map[string]any{"seq": nil}, wantErr: contract.ErrMissing},
		{name: "report without number", topic: "", file: "report.json", edit: map[string]any{"number": ""}, wantErr: contract.ErrMissing},
		{name: "report without category", topic: "", file: "report.json", edit: map[string]any{"category": nil}, wantErr: contract.ErrMissing},
		{name: "rating without number", topic: "", file: "rating.json", edit: map[string]any{"number": nil}, wantErr: contract.ErrMissing},
		{name: "wish without text", topic: "", file: "wish.json", edit: map[string]any{"text": ""}, wantErr: contract.ErrMissing},
		{name: "cmd without name", topic: "", file: "cmd.json", edit: map[string]any{"name": nil}, wantErr: contract.ErrMissing},
		{name: "cmdack without id", topic: "", file: "cmdack.json", edit: map[string]any{"id": nil}, wantErr: contract.ErrMissing},
		{name: "alert without device", topic: "", file: "alert.json", edit: map[string]any{"device": nil}, wantErr: contract.ErrMissing},
		{name: "notices without community", topic: "", file: "notices.json", edit: map[string]any{"community": nil}, wantErr: contract.ErrMissing},
		{name: "ticket without number", topic: "", file: "ticket.json", edit: map[string]any{"number": nil}, wantErr: contract.ErrMissing},
		{name: "request without op", topic: "", file: "request.json", edit: map[string]any{"op": nil}, wantErr: contract.ErrMissing},
		{name: "fwreq without transfer", topic: "", file: "fwreq.json", edit: map[string]any{"transfer": nil}, wantErr: contract.ErrMissing},
		{name: "fwstatus without state", topic: "", file: "fwstatus.json", edit: map[string]any{"state": ""}, wantErr: contract.ErrMissing},
		{name: "fwstatus mismatch", topic: contract.DeviceTopic("mb-0009", "fwstatus"), file: "fwstatus.json", wantErr: contract.ErrTopic},
		{name: "response without id", topic: "", file: "response.json", edit: map[string]any{"id": nil}, wantErr: contract.ErrMissing},

		{name: "device mismatch", topic: contract.DeviceTopic("mb-0002", "event"), file: "event.json", wantErr: contract.ErrTopic},
		{name: "kiosk mismatch", topic: contract.DeviceTopic("kiosk-02", "report"), file: "wish.json", wantErr: contract.ErrTopic},
		{name: "unknown topic", topic: "linli/v2/dev/mb-0001/event", file: "event.json", wantErr: contract.ErrTopic},
		{name: "unknown leaf", topic: contract.DeviceTopic("mb-0001", "events"), file: "event.json", wantErr: contract.ErrTopic},

		{name: "device with slash", topic: "", file: "event.json", edit: map[string]any{"device": "mb/0001"}, wantErr: contract.ErrMalformed},
		{name: "device with space", topic: "", file: "birth.json", edit: map[string]any{"device": "mb 0001"}, wantErr: contract.ErrMalformed},
		{name: "device with wildcard", topic: "", file: "death.json", edit: map[string]any{"device": "mb+"}, wantErr: contract.ErrMalformed},
		{name: "device too long", topic: "", file: "cmd.json", edit: map[string]any{"device": strings.Repeat("d", 65)}, wantErr: contract.ErrMalformed},

		{name: "unknown state", topic: ev, file: "event.json", edit: map[string]any{"to": "burning"}, wantErr: contract.ErrMalformed},
		{name: "unknown channel state", topic: "", file: "state.json", edit: map[string]any{"channels": []any{map[string]any{"channel": "x", "state": "hot"}}}, wantErr: contract.ErrMalformed},
		{name: "birth of a phone", topic: "", file: "birth.json", edit: map[string]any{"kind": "phone"}, wantErr: contract.ErrMalformed},
		{name: "phone without consent", topic: "", file: "report.json", edit: map[string]any{"consent": false}, wantErr: contract.ErrMalformed},
		{name: "bad urgency", topic: "", file: "report.json", edit: map[string]any{"urgency": "whenever"}, wantErr: contract.ErrMalformed},
		{name: "report text too long", topic: "", file: "report.json", edit: map[string]any{"text": strings.Repeat("x", 2001)}, wantErr: contract.ErrMalformed},
		{name: "bad rating", topic: "", file: "rating.json", edit: map[string]any{"rating": "5 stars"}, wantErr: contract.ErrMalformed},
		{name: "too many blocks", topic: "", file: "fwreq.json", edit: map[string]any{"blocks": make([]int, 4097)}, wantErr: contract.ErrMalformed},
		{name: "4096 blocks", topic: "", file: "fwreq.json", edit: map[string]any{"blocks": make([]int, 4096)}},
		{name: "alert of unknown state", topic: "", file: "alert.json", edit: map[string]any{"state": "burning"}, wantErr: contract.ErrMalformed},
		{name: "alert without state", topic: "", file: "alert.json", edit: map[string]any{"state": nil}, wantErr: contract.ErrMalformed},
		{name: "area alert of unknown state", topic: "", file: "area-alerts.json", edit: map[string]any{"alerts": []any{map[string]any{"id": "a", "device": "d", "state": "hot"}}}, wantErr: contract.ErrMalformed},
		{name: "area alert without id", topic: "", file: "area-alerts.json", edit: map[string]any{"alerts": []any{map[string]any{"device": "d", "state": "alarm"}}}, wantErr: contract.ErrMissing},
		{name: "notice of unknown level", topic: "", file: "notices.json", edit: map[string]any{"notices": []any{map[string]any{"id": "n", "title": "t", "level": "panic"}}}, wantErr: contract.ErrMalformed},
		{name: "notice without level is info", topic: "", file: "notices.json", edit: map[string]any{"notices": []any{map[string]any{"id": "n", "title": "t"}}}},
		{name: "warning notice", topic: "", file: "notices.json", edit: map[string]any{"notices": []any{map[string]any{"id": "n", "title": "t", "level": "warning"}}}},
		{name: "alert on wildcard grid", topic: "linli/v1/grid/+/alert", file: "alert.json", wantErr: contract.ErrTopic},
		{name: "ticket on empty number", topic: "linli/v1/ticket/", file: "ticket.json", wantErr: contract.ErrTopic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.raw)
			if tt.file != "" {
				b = payload(t, tt.file, tt.edit)
			}
			m, err := contract.Decode(tt.topic, b)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Decode: got %v, want no error", err)
				}
				if m == nil {
					t.Fatal("Decode: got a nil message and no error")
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decode: got error %v, want %v", err, tt.wantErr)
			}
			if m != nil {
				t.Errorf("Decode: got message %#v with error %v, want nil", m, err)
			}
			if !strings.HasPrefix(err.Error(), "contract: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestEncodeValidates checks that Encode refuses what Decode would refuse,
// so a program cannot publish a message its peers drop.
func TestEncodeValidates(t *testing.T) {
	tests := []struct {
		name string
		msg  contract.Message
		want error
	}{
		{"event without id", &contract.Event{Device: "d", Seq: 1, Channel: "c", To: contract.StateAlarm}, contract.ErrMissing},
		{"bad device id", &contract.Death{Device: "a/b"}, contract.ErrMalformed},
		{"too large", &contract.Wish{ID: "w", Text: strings.Repeat("a", contract.MaxPayload)}, contract.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := contract.Encode(tt.msg); !errors.Is(err, tt.want) {
				t.Errorf("Encode: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMustEncodePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustEncode of an invalid message did not panic")
		}
	}()
	contract.MustEncode(&contract.Death{})
}
