package contract_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"linli/mqtt/contract"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the canonical examples")

var (
	t0     = time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)
	synced = contract.Stamp{At: t0, Synced: true, Uptime: 90 * time.Minute}
	loc    = contract.Location{Community: "幸福里", Grid: "g1", Building: "3", Unit: "2", Door: "201"}
)

// golden is one canonical example per message type, the topic it travels
// on, and its file under testdata. A change to the schema shows up as a
// change of these files in review.
var golden = []struct {
	file  string
	topic string
	msg   contract.Message
}{
	{"birth.json", contract.DeviceTopic("mb-0001", "birth"), &contract.Birth{
		Device: "mb-0001", Kind: "sensor", Session: 7, Firmware: "1.4.2", Location: loc,
		Channels: []contract.ChannelInfo{
			{Name: "busbar-l1", Kind: "temperature", Unit: "°C", PreAlarm: 60, Alarm: 75},
			{Name: "residual", Kind: "residual", Unit: "mA", PreAlarm: 200, Alarm: 300},
		},
		Time: synced,
	}},
	{"death.json", contract.DeviceTopic("mb-0001", "death"), &contract.Death{Device: "mb-0001", Session: 7}},
	{"state.json", contract.DeviceTopic("mb-0001", "state"), &contract.DeviceState{
		Device: "mb-0001", Session: 7,
		Channels: []contract.ChannelState{
			{Channel: "busbar-l1", State: contract.StateNormal, Value: 41.5},
			{Channel: "residual", State: contract.StateAlarm, Value: 320, Latched: true},
		},
		Health: contract.Health{Uptime: 90 * time.Minute, Reconnects: 2, QueueDepth: 1, Dropped: 0, StorageUsed: 65536, StorageErrors: 3, Firmware: "1.4.2"},
		Time:   synced,
	}},
	{"telemetry.json", contract.DeviceTopic("mb-0001", "telemetry"), &contract.Telemetry{
		Device: "mb-0001", Session: 7, Seq: 1042,
		Readings: []contract.Reading{
			{Channel: "busbar-l1", Value: 41.5, Unit: "°C", Time: synced},
			{Channel: "residual", Err: "no answer", Time: contract.Stamp{Uptime: 5 * time.Second}},
		},
	}},
	{"event.json", contract.DeviceTopic("mb-0001", "event"), &contract.Event{
		ID: "mb-0001-7-31", Device: "mb-0001", Session: 7, Seq: 31, Channel: "residual", Kind: "residual",
		From: contract.StatePreAlarm, To: contract.StateAlarm, Cause: "threshold",
		Value: 320, Unit: "mA", SetPoint: 300, Detail: "3 of 4 samples over", Location: loc, Time: synced,
	}},
	{"report.json", contract.DeviceTopic("kiosk-01", "report"), &contract.Report{
		Number: "K01-20261127-0042", Device: "kiosk-01", Category: "water", Location: loc,
		Phrases: []string{"漏水", "楼道"}, Text: "三楼楼道漏水", Phone: "13800000000", Consent: true,
		Urgency: contract.UrgencyUrgent, Time: synced, Filed: t0.Add(2 * time.Second),
	}},
	{"rating.json", contract.DeviceTopic("kiosk-01", "report"), &contract.Rating{
		ID: "r-0042", Number: "K01-20261127-0042", Device: "kiosk-01", Rating: contract.RatingUnsatisfied,
		Comment: "还在漏", Time: synced,
	}},
	{"wish.json", contract.DeviceTopic("kiosk-01", "report"), &contract.Wish{
		ID: "w-0007", Device: "kiosk-01", Text: "想请人帮忙修自行车", Location: loc, Time: synced,
	}},
	{"cmd.json", contract.DeviceTopic("mb-0001", "cmd"), &contract.Command{
		ID: "c-0001", Device: "mb-0001", Name: contract.CmdReset, Args: map[string]string{"channel": "residual"},
		By: "wang", Time: t0,
	}},
	{"cmdack.json", contract.DeviceTopic("mb-0001", "cmdack"), &contract.CommandAck{
		ID: "c-0001", Device: "mb-0001", OK: true, Result: json.RawMessage(`{"reset":["residual"]}`),
	}},
	{"alert.json", contract.GridAlertTopic("g1"), &exampleAlert},
	{"area-alerts.json", contract.AreaAlertsTopic("幸福里", "3"), &contract.AreaAlerts{
		Community: "幸福里", Building: "3", Alerts: []contract.Alert{exampleAlert, exampleAckedAlert}, Updated: t0,
	}},
	{"notices.json", contract.AreaTopic("幸福里", "notices"), &contract.Notices{
		Community: "幸福里", Updated: t0,
		Notices: []contract.Notice{{ID: "n-1", Title: "台风预警", Body: "请收好阳台物品", Level: "typhoon", Published: t0, Expires: t0.Add(24 * time.Hour)}},
	}},
	{"directory.json", contract.AreaTopic("幸福里", "directory"), &contract.Directory{
		Community: "幸福里", Updated: t0,
		Services: []contract.Service{{Name: "社区卫生服务站", Phone: "0571-00000000", Place: "5号楼一层", Hours: "8:00-17:00"}},
	}},
	{"wishes.json", contract.AreaTopic("幸福里", "wishes"), &contract.Wishes{
		Community: "幸福里", Updated: t0,
		Wishes: []contract.Wish{{ID: "w-0007", Device: "kiosk-01", Text: "想请人帮忙修自行车", Location: loc,
			ClaimedBy: "李师傅", ClaimedAt: t0.Add(time.Hour), Time: synced}},
	}},
	{"ticket.json", contract.TicketTopic("K01-20261127-0042"), &contract.TicketStatus{
		Number: "K01-20261127-0042", Category: "water", Location: loc, Status: "accepted", Assigned: "wang",
		Due: t0.Add(24 * time.Hour),
		Timeline: []contract.TicketStep{
			{Status: "reported", At: t0},
			{Status: "accepted", By: "wang", Note: "马上到", At: t0.Add(10 * time.Minute)},
		},
	}},
	{"request.json", contract.RequestTopic("wang"), &contract.Request{
		ID: "q-1", From: "wang", Op: contract.OpAlertAck, Args: map[string]string{"id": "a-0001"},
	}},
	{"response.json", contract.ResponseTopic("wang"), &contract.Response{
		ID: "q-1", OK: true, Body: json.RawMessage(`{"id":"a-0001"}`),
	}},
	{"fwreq.json", contract.DeviceTopic("mb-0001", "fwreq"), &contract.FirmwareRequest{
		Device: "mb-0001", Transfer: "t-0003", Blocks: []uint32{0, 1, 7},
	}},
	{"fwstatus.json", contract.DeviceTopic("mb-0001", "fwstatus"), &contract.FirmwareStatus{
		Device: "mb-0001", Transfer: "t-0003", Version: "1.5.0", State: contract.FwDownload, Count: 12, Of: 40, Running: "1.4.2",
	}},
}

var exampleAlert = contract.Alert{
	ID: "a-0001", Device: "mb-0001", Channel: "residual", Kind: "residual", State: contract.StateAlarm,
	Value: 320, Unit: "mA", Location: loc, Raised: t0.Add(time.Second), EventTime: synced,
	Level: "grid", Assigned: []string{"wang"}, EscalateAt: t0.Add(5 * time.Minute),
	EventID: "mb-0001-7-31", Description: "剩余电流报警",
}

// exampleAckedAlert is an alert a grid worker acknowledged: kiosks say who
// is on the way.
var exampleAckedAlert = func() contract.Alert {
	a := exampleAlert
	a.ID, a.Channel, a.Kind, a.Value, a.Unit = "a-0002", "temperature", "temperature", 92.5, "°C"
	a.EventID, a.Description, a.EscalateAt = "mb-0001-7-32", "温度报警", time.Time{}
	a.AckedBy, a.AckedAt, a.AckedRole, a.AckedName = "wang", t0.Add(90*time.Second), "grid-worker", "王芳"
	return a
}()

// cmpOpts compares decoded messages: RawMessage by its compact JSON, and
// nil and empty slices and maps alike (omitempty drops both).
var cmpOpts = cmp.Options{
	cmp.FilterPath(func(p cmp.Path) bool { return p.Last().Type() != rawType }, cmpopts.EquateEmpty()),
	cmp.Comparer(func(a, b json.RawMessage) bool { return compact(a) == compact(b) }),
}

var rawType = reflect.TypeFor[json.RawMessage]()

func compact(r json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, r); err != nil {
		return "invalid: " + string(r)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range golden {
		t.Run(g.file, func(t *testing.T) {
			b, err := contract.Encode(g.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
				t.Errorf("Encode differs from %s (-file +encoded); if the schema change is meant, run go test -update:\n%s", path, diff)
			}
			// The file, as a peer would send it, decodes on its topic to
			// the same message.
			got, err := contract.Decode(g.topic, want)
			if err != nil {
				t.Fatalf("Decode(%q, %s): %v", g.topic, path, err)
			}
			if diff := cmp.Diff(g.msg, got, cmpOpts); diff != "" {
				t.Errorf("Decode(%s) (-want +got):\n%s", path, diff)
			}
			var h contract.Header
			_ = json.Unmarshal(want, &h)
			seen[h.Type] = true
		})
	}
	for _, typ := range allTypes {
		if !seen[typ] {
			t.Errorf("no golden example of type %q", typ)
		}
	}
}

var allTypes = []string{
	contract.TypeBirth, contract.TypeDeath, contract.TypeState, contract.TypeTelemetry, contract.TypeEvent,
	contract.TypeReport, contract.TypeRating, contract.TypeWish, contract.TypeCommand, contract.TypeCommandAck,
	contract.TypeAlert, contract.TypeAreaAlerts, contract.TypeNotices, contract.TypeDirectory, contract.TypeWishes,
	contract.TypeTicketStatus, contract.TypeRequest, contract.TypeResponse,
	contract.TypeFirmwareRequest, contract.TypeFirmwareStatus,
}
