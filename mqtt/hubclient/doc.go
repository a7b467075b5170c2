// Package hubclient calls the hub (gridhub, or any platform that speaks the
// contract) over MQTT alone, as gridctl, the kiosk's staff screens and
// maintenance tools do.
//
// A call publishes a contract.Request with a fresh id on
// contract.RequestTopic(user) and waits for the contract.Response with the
// same id on contract.ResponseTopic(user); the operations and their
// arguments are listed in package contract (Op* constants). The broker lets
// a worker use only its own pair of topics, so the user name is the client
// part of both topics.
//
// Alerts streams the grid alerts the hub publishes on
// contract.GridAlertTopic, in order of arrival.
//
// The client reconnects on its own (with paho's capped back-off) and
// subscribes again after a reconnect, all filters in one SUBSCRIBE; calls
// made while the connection is down wait until their context ends. Every
// grant is checked: a filter the broker refuses (the account may not read
// it) fails Dial or Alerts with a *RefusedError naming the filter, and is
// logged at Error after a reconnect.
package hubclient
