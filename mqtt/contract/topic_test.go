package contract_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"linli/mqtt/contract"
)

func TestParseTopic(t *testing.T) {
	tests := []struct {
		topic string
		want  contract.Topic // Parts left out: checked separately
	}{
		{contract.DeviceTopic("mb-0001", "birth"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "birth"}},
		{contract.DeviceTopic("mb-0001", "death"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "death"}},
		{contract.DeviceTopic("mb-0001", "state"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "state"}},
		{contract.DeviceTopic("mb-0001", "telemetry"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "telemetry"}},
		{contract.DeviceTopic("mb-0001", "event"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "event"}},
		{contract.DeviceTopic("kiosk-01", "report"), contract.Topic{Kind: "dev", Device: "kiosk-01", Leaf: "report"}},
		{contract.DeviceTopic("mb-0001", "cmd"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "cmd"}},
		{contract.DeviceTopic("mb-0001", "cmdack"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "cmdack"}},
		{contract.DeviceTopic("mb-0001", "fw"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "fw"}},
		{contract.DeviceTopic("mb-0001", "fwreq"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "fwreq"}},
		{contract.DeviceTopic("mb-0001", "fwstatus"), contract.Topic{Kind: "dev", Device: "mb-0001", Leaf: "fwstatus"}},
		{contract.GridAlertTopic("g1"), contract.Topic{Kind: "grid", Leaf: "alert"}},
		{contract.AreaAlertsTopic("幸福里", "3"), contract.Topic{Kind: "area", Leaf: "alerts"}},
		{contract.AreaTopic("幸福里", "notices"), contract.Topic{Kind: "area", Leaf: "notices"}},
		{contract.AreaTopic("幸福里", "directory"), contract.Topic{Kind: "area", Leaf: "directory"}},
		{contract.AreaTopic("幸福里", "wishes"), contract.Topic{Kind: "area", Leaf: "wishes"}},
		{contract.TicketTopic("K01-0042"), contract.Topic{Kind: "ticket", Leaf: "K01-0042"}},
		{contract.RequestTopic("wang"), contract.Topic{Kind: "hub", Leaf: "wang"}},
		{contract.ResponseTopic("wang"), contract.Topic{Kind: "hub", Leaf: "wang"}},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			got, err := contract.ParseTopic(tt.topic)
			if err != nil {
				t.Fatalf("ParseTopic: %v", err)
			}
			if want := strings.Split(strings.TrimPrefix(tt.topic, contract.Root+"/"), "/"); !cmp.Equal(got.Parts, want) {
				t.Errorf("Parts: got %q, want %q", got.Parts, want)
			}
			got.Parts = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseTopic (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTopicRejects(t *testing.T) {
	for _, topic := range []string{
		"",
		"linli",
		"linli/v1",
		"linli/v1/",
		"linli/v2/dev/mb-0001/event",
		"other/v1/dev/mb-0001/event",
		"/linli/v1/dev/mb-0001/event",
		"linli/v1/dev/mb-0001",
		"linli/v1/dev/mb-0001/events",
		"linli/v1/dev/mb-0001/event/extra",
		"linli/v1/dev//event",
		"linli/v1/dev/+/event",
		"linli/v1/dev/#/event",
		"linli/v1/dev/mb 0001/event",
		"linli/v1/dev/" + strings.Repeat("d", 65) + "/event",
		"linli/v1/grid/g1",
		"linli/v1/grid/g1/alerts",
		"linli/v1/area/c/notice",
		"linli/v1/area/c/b/notices",
		"linli/v1/area/c/alerts",
		"linli/v1/ticket",
		"linli/v1/ticket/a/b",
		"linli/v1/hub/req",
		"linli/v1/hub/ask/wang",
		"linli/v1/hub/req/wang/x",
		"linli/v1/nope/x/y",
		// Empty and wildcard id levels: ParseTopic is for concrete topics,
		// wildcards belong in subscription filters only.
		"linli/v1/grid//alert",
		"linli/v1/grid/+/alert",
		"linli/v1/grid/#/alert",
		"linli/v1/grid/g 1/alert",
		"linli/v1/ticket/",
		"linli/v1/ticket/#",
		"linli/v1/ticket/+",
		"linli/v1/hub/req/",
		"linli/v1/hub/req/+",
		"linli/v1/hub/resp/#",
		"linli/v1/area//notices",
		"linli/v1/area/+/directory",
		"linli/v1/area/c/#",
		"linli/v1/area//3/alerts",
		"linli/v1/area/c//alerts",
		"linli/v1/area/+/+/alerts",
		"linli/v1/area/c/" + strings.Repeat("b", 65) + "/alerts",
		"linli/v1/dev/mb-0001/#",
		"linli/v1/dev/mb-0001/+",
	} {
		t.Run(topic, func(t *testing.T) {
			got, err := contract.ParseTopic(topic)
			if !errors.Is(err, contract.ErrTopic) {
				t.Errorf("ParseTopic(%q) = %+v, %v; want ErrTopic", topic, got, err)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"mb-0001", true},
		{"幸福里", true},
		{strings.Repeat("d", 64), true},
		{"", false},
		{strings.Repeat("d", 65), false},
		{"a/b", false},
		{"a+", false},
		{"#", false},
		{"a b", false},
		{"a\tb", false},
		{"a\x7fb", false},
	}
	for _, tt := range tests {
		if got := contract.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestLocationString(t *testing.T) {
	tests := []struct {
		loc  contract.Location
		want string
	}{
		{contract.Location{}, ""},
		{contract.Location{Community: "幸福里", Grid: "g1", Building: "3", Unit: "2", Door: "201"}, "幸福里/3/2/201"},
		{contract.Location{Community: "c", Door: "201"}, "c/201"},
	}
	for _, tt := range tests {
		if got := tt.loc.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.loc, got, tt.want)
		}
	}
}
