// Package config is gridhub's configuration: the community's grids and
// buildings, its workers and devices with their passwords, and the alert
// escalation times. It is one JSON file, read by Load:
//
//	{
//	  "subdistrict": "linli-jiedao",          // name of the subdistrict
//	  "hub": {"id": "gridhub", "password": "sha256:…"},  // the hub's broker account
//	  "communities": [{
//	    "id": "east", "name": "东苑社区",
//	    "grids": [{"id": "east-1", "name": "第一网格", "buildings": ["b1", "b2"]}]
//	  }],
//	  "workers": [{
//	    "id": "w-li", "name": "李娜", "role": "grid-worker",
//	    "community": "east", "grid": "east-1", "on_duty": true, "password": "sha256:…"
//	  }],
//	  "devices": [{
//	    "id": "mb-0001", "kind": "sensor", "password": "sha256:…",
//	    "location": {"community": "east", "building": "b1", "unit": "1"}
//	  }],
//	  "escalation": {"grid": "5m", "community": "10m"}
//	}
//
// Worker roles are grid-worker (acts on the alerts of its grid),
// community (its community's alerts, second level), subdistrict (every
// alert, third level) and maintenance (every device, may change
// set-points and flash firmware). A device's grid is derived from its
// building; a building belongs to exactly one grid. Passwords are
// "sha256:<hex>" (see broker.HashPassword) or, for development, plain; a
// worker who only uses the web console may have a bcrypt hash instead
// (HashPassword, gridhub passwd --bcrypt), which CheckPassword accepts but
// the broker does not.
// Escalation times are Go durations: an alert nobody acknowledged moves
// from the grid to the community after "grid", and from the community to
// the subdistrict after "community" more.
//
// "shared_broker": true marks the configuration as one shard of several on
// one broker or cluster (see Config.SharedBroker and the README's
// topologies).
//
// A Config also provides the broker's Accounts, so that the embedded
// broker and the hub agree on who is who.
package config
