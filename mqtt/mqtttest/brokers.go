package mqtttest

import "testing"

// Broker is one kind of broker a test can run against.
type Broker struct {
	// Name is "embedded" or "mosquitto", for t.Run.
	Name string
	// Start starts a fresh broker of this kind for t and returns its URL.
	// It skips t (or fails it, see Mosquitto) when the broker is missing.
	Start func(t testing.TB) string
}

// Brokers returns the brokers every MQTT-facing test should pass against:
// the embedded mochi broker and mosquitto. Each Start is called inside the
// subtest, so a missing mosquitto skips only its subtest.
func Brokers(t testing.TB) []Broker {
	t.Helper()
	return []Broker{
		{Name: "embedded", Start: Embedded},
		{Name: "mosquitto", Start: func(t testing.TB) string {
			t.Helper()
			return Mosquitto(t, nil).URL()
		}},
	}
}
