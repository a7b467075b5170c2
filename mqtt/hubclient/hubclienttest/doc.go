// Package hubclienttest is a fake hub for tests of programs that call the
// hub through package hubclient (gridctl, kiosk staff screens): it answers
// requests on linli/v1/hub/req/+ with canned responses and publishes grid
// alerts, on any broker (see package mqtttest).
package hubclienttest
