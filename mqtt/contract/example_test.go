package contract_test

import (
	"errors"
	"fmt"
	"time"

	"linli/mqtt/contract"
)

func Example() {
	// A sensor board publishes an alarm event on its own event topic.
	ev := &contract.Event{
		ID: "mb-0001-7-31", Device: "mb-0001", Session: 7, Seq: 31,
		Channel: "residual", Kind: "residual",
		From: contract.StatePreAlarm, To: contract.StateAlarm, Cause: "threshold",
		Value: 320, Unit: "mA", SetPoint: 300,
		Time: contract.Stamp{Uptime: 90 * time.Minute}, // no clock yet: not synced
	}
	topic := contract.DeviceTopic(ev.Device, "event")
	payload, err := contract.Encode(ev)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The hub decodes what arrives, checking it belongs on the topic.
	m, err := contract.Decode(topic, payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	if got, ok := m.(*contract.Event); ok {
		fmt.Println(topic, got.Type, got.Channel, got.To, got.Value, got.Unit)
	}

	// The same payload on another device's topic is refused.
	_, err = contract.Decode(contract.DeviceTopic("mb-0002", "event"), payload)
	fmt.Println(errors.Is(err, contract.ErrTopic))
	// Output:
	// linli/v1/dev/mb-0001/event event residual alarm 320 mA
	// true
}
