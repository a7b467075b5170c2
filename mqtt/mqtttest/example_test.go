package mqtttest_test

import (
	"fmt"
	"testing"

	"linli/mqtt/mqtttest"
)

func Example() {
	t := newExampleT() // in a test: the test's *testing.T
	defer t.cleanup()

	url := mqtttest.Embedded(t)
	c := mqtttest.Client(t, url, "example")
	msgs := c.Subscribe("linli/v1/grid/+/alert", 1)
	c.Publish("linli/v1/grid/g1/alert", []byte(`{"v":1}`), 1, false)
	m := mqtttest.Next(t, msgs)
	fmt.Println(m.Topic, string(m.Payload))
	// Output:
	// linli/v1/grid/g1/alert {"v":1}
}

// exampleT stands in for a *testing.T so that the example runs and shows
// its output. Only the methods mqtttest calls are implemented.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func newExampleT() *exampleT                  { return new(exampleT) }
func (t *exampleT) Helper()                   {}
func (t *exampleT) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Failed() bool              { return false }
func (t *exampleT) Log(args ...any)           {}
func (t *exampleT) Logf(string, ...any)       {}
func (t *exampleT) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (t *exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
