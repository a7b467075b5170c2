package hubclienttest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"linli/mqtt/contract"
	"linli/mqtt/hubclient"
	"linli/mqtt/hubclient/hubclienttest"
	"linli/mqtt/mqtttest"
)

func Example() {
	t := new(exampleT) // in a test: the test's *testing.T
	defer t.cleanup()

	url := mqtttest.Embedded(t)
	hub := hubclienttest.New(t, url)
	hub.Reply(contract.OpDevices, []contract.DeviceInfo{{Device: "mb-0001", Kind: "sensor", Online: true}})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := hubclient.Dial(ctx, &hubclient.Options{Broker: url, User: "wang"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	var devs []contract.DeviceInfo
	if err := c.Call(ctx, contract.OpDevices, nil, nil, &devs); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(devs[0].Device, devs[0].Online, hub.Requests()[0].From)
	// Output:
	// mb-0001 true wang
}

// exampleT stands in for a *testing.T so that the example runs.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (t *exampleT) Helper()                   {}
func (t *exampleT) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Failed() bool              { return false }
func (t *exampleT) Log(...any)                {}
func (t *exampleT) Logf(string, ...any)       {}
func (t *exampleT) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (t *exampleT) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
