// Command gridctl is the command line of grid workers and maintenance
// staff. It speaks MQTT only, to any broker, using the hub's request and
// response protocol (package contract, ops.go): it needs nothing but the
// broker's address and the worker's account.
//
//	gridctl [--broker URL] [--user U] [--pass P] [--timeout 5s] [--json] COMMAND [ARGS]
//
//	watch [--grid G]                  live alerts with the escalation countdown
//	alerts [--all]                    active alerts (--all: cleared ones too)
//	ack ID                            acknowledge an alert
//	devices                           devices, online state, channels, health
//	reset DEVICE [--channel C]        reset latched alarms of a device
//	cmd DEVICE NAME [k=v ...]         send any command to a device (reset and cmd
//	                                  wait --device-timeout, 15s, longer: the hub
//	                                  waits for the device before it answers)
//	tickets [--status S] [--grid G]   tickets
//	ticket NUMBER                     one ticket with its timeline
//	accept|start|close NUMBER         move a ticket on
//	resolve|return NUMBER --note T    resolve or return a ticket, with a note
//	duplicate NUMBER --of OTHER       mark a ticket as a duplicate
//	assign NUMBER --grid G|--worker W send a ticket to another grid or worker
//	                                  (also "ticket assign"; [--note T])
//	wishes [--community C]            residents' micro-wishes
//	claim WISH-ID --by NAME           a volunteer claims a wish
//	notice --community C --title T --body B [--level info|warning|typhoon] [--expires 24h]
//	version, help [COMMAND]
//
// The broker defaults to tcp://127.0.0.1:1883 (gridhub's embedded broker)
// and may be set with LINLI_BROKER; the user and password with LINLI_USER
// and LINLI_PASS (the user defaults to $USER). The user is the {client} of
// the request and response topics; the MQTT client id is
// "gridctl-<user>-<random>", so several gridctl of one worker can run.
//
// Every listing prints an aligned table (times in local time with their
// age, Chinese text counted as two columns), or JSON with --json. watch
// prints the active alerts, then one line per change when its output is
// not a terminal; on a terminal it redraws a compact table every second
// with the countdown to the next escalation.
//
// Exit status: 0 on success, 1 on an error (one line on stderr naming the
// problem), 2 on a usage error.
package main
