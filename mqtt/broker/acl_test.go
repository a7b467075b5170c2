package broker

import (
	"strings"
	"testing"

	"linli/mqtt/contract"
)

// TestDevicePublishFast: the allocation-free check of a device's or
// kiosk's publish (devicePublish, asked for every telemetry message) says
// what its rules say, for its own topics, others', wildcards and near
// misses, and allocates nothing.
func TestDevicePublishFast(t *testing.T) {
	r := contract.Root + "/"
	for _, acc := range []Account{{ID: "mb-0001", Role: RoleDevice}, {ID: "k1", Role: RoleKiosk, Community: "east"}} {
		topics := []string{r + "dev/mb-00011/event", r + "dev/mb-000/event", r + "dev/" + acc.ID, r + "dev/" + acc.ID + "/",
			r + "dev/" + acc.ID + "/event/x", r + "dev/+/event", r + "dev/" + acc.ID + "/#", "other/dev/" + acc.ID + "/event",
			r + "area/east/notices", r + "dev/" + acc.ID + "/cmd", r + "dev/" + acc.ID + "/fw"}
		for _, leaf := range []string{"birth", "death", "state", "telemetry", "event", "report", "cmdack", "fwreq", "fwstatus"} {
			topics = append(topics, r+"dev/"+acc.ID+"/"+leaf, r+"dev/other/"+leaf)
		}
		pub, _, _ := rules(acc)
		for _, topic := range topics {
			want := false
			for _, p := range pub {
				want = want || (!strings.ContainsAny(topic, "+#") && covers(p, topic))
			}
			if got := Allowed(acc, topic, true); got != want {
				t.Errorf("%s publishing %s: got %v, its rules say %v", acc.ID, topic, got, want)
			}
		}
	}
	acc := Account{ID: "mb-0001", Role: RoleDevice}
	topic := contract.DeviceTopic("mb-0001", "telemetry")
	if n := testing.AllocsPerRun(100, func() { Allowed(acc, topic, true) }); n != 0 {
		t.Errorf("a telemetry publish check allocates %v times", n)
	}
}
