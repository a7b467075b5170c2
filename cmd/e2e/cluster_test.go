package e2e

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"linli/grid/config"
	"linli/mqtt/contract"
	"linli/mqtt/natsbroker/natstest"
)

// The 3-node NATS cluster of the package, started by the first test or
// benchmark that needs it and stopped by TestMain.
var (
	clusterOnce sync.Once
	cluster     *natstest.Cluster
	clusterErr  error
)

// sharedCluster returns the package's cluster, starting it on first use
// with the accounts of hubConfig.
func sharedCluster(t testing.TB) *natstest.Cluster {
	t.Helper()
	clusterOnce.Do(func() {
		cfg, err := config.Parse([]byte(hubConfig))
		if err != nil {
			clusterErr = err
			return
		}
		cluster, clusterErr = natstest.Start(&natstest.Options{Accounts: cfg.Accounts(), Logger: discard()})
	})
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	return cluster
}

// closeCluster stops the package's cluster, if it was started.
func closeCluster() {
	if cluster != nil {
		cluster.Close()
	}
}

// rotate returns c's MQTT URLs as a --broker list starting at node i.
func rotate(c *natstest.Cluster, i int) string {
	u := c.MQTTURLs()
	return strings.Join(append(u[i:], u[:i]...), ",")
}

// startClusterHub runs gridhub against the cluster with --broker listing
// every node, its own first (node first), as a hub on a machine with a
// node does; workers reach it through node watch. The sessions of the
// package's client ids are wiped first, so that what an earlier test left
// queued in the cluster does not reach this hub.
func startClusterHub(t testing.TB, c *natstest.Cluster, first, watch int) *hub {
	t.Helper()
	wipeSessions(t, c.MQTTURLs()[watch])
	dir := t.TempDir()
	h := &hub{t: t, config: dir + "/hub.json", data: dir + "/data", broker: rotate(c, first), url: c.MQTTURLs()[watch]}
	if err := os.WriteFile(h.config, []byte(hubConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	h.start()
	return h
}

// wipeSessions connects each persistent client id of these tests with a
// clean session, which deletes what the cluster keeps for it.
func wipeSessions(t testing.TB, url string) {
	t.Helper()
	for _, id := range [][3]string{
		{"gridhub", "gridhub", "hubpw"}, {"gridhub-telemetry", "gridhub", "hubpw"},
		{"e2e-1", "e2e-1", "pw"}, {"bench-1", "bench-1", "pw"},
	} {
		cl := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id[0]).SetUsername(id[1]).
			SetPassword(id[2]).SetProtocolVersion(4).SetCleanSession(true).SetConnectTimeout(10 * time.Second))
		if tok := cl.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatalf("wipe session %s: %v", id[0], tok.Error())
		}
		cl.Disconnect(100)
	}
}

// TestClusterFaults is TestFaults on a 3-node NATS cluster (JetStream R3,
// MQTT): gridhub (the real binary, --broker listing the three nodes, node 1
// first) and sensord (--broker listing them, node 0 first) play alarms at
// 20× while a worker on node 2 watches the grid's alerts and resets the
// latched alarm. Mid-stream the node sensord is on is killed and
// restarted, then the node the hub is on, then the hub itself (SIGKILL).
// Every event sensord committed must be applied once, in order, and raise
// exactly one alert per alarm; the watching worker sees the alerts.
func TestClusterFaults(t *testing.T) {
	t.Parallel() // with TestFaults and TestLongSilentCut: the processes mostly wait
	c := sharedCluster(t)
	h := startClusterHub(t, c, 1, 2)
	data := t.TempDir()
	sensord := func(scenario string, extra ...string) *proc {
		args := append([]string{"run", "--config", "testdata/sensor.json", "--sim", scenario,
			"--data", data, "--broker", rotate(c, 0), "--user", "e2e-1", "--pass", "pw"}, extra...)
		return start(t, "sensord", nil, args...)
	}
	s := sensord("testdata/alarms.json", "--speed", "20", "--exit-at-end=false")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := worker(ctx, h.url)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The worker watches the grid as gridctl watch does.
	alerts, err := w.Alerts(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	watched := map[string]bool{}
	go func() {
		for a := range alerts {
			if a.Device == "e2e-1" && a.State == contract.StateAlarm && !a.Cleared {
				mu.Lock()
				watched[a.ID] = true
				mu.Unlock()
			}
		}
	}()
	grows := func(what string, n uint64) {
		t.Helper()
		from := deviceInfo(ctx, w).LastEventSeq
		deadline := time.Now().Add(90 * time.Second)
		for deviceInfo(ctx, w).LastEventSeq < from+n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the hub's last event of e2e-1 stayed at %d, want %d more", what, deviceInfo(ctx, w).LastEventSeq, n)
			}
			time.Sleep(100 * time.Millisecond) // polling other processes
		}
	}
	stopReset := resetLoop(ctx, w)
	defer stopReset()

	grows("start", 20)
	for _, k := range []struct {
		node int
		who  string
	}{{0, "sensord's"}, {1, "the hub's"}} {
		t.Logf("kill NATS node %d (%s)", k.node, k.who)
		if err := c.Kill(k.node); err != nil {
			t.Fatal(err)
		}
		grows("with node "+k.who+" down", 10)
		if err := c.Restart(k.node); err != nil {
			t.Fatal(err)
		}
		grows("after node "+k.who+" restart", 10)
	}
	t.Log("kill -9 gridhub")
	h.p.kill()
	time.Sleep(2 * time.Second) // sensord goes on deciding alarms meanwhile
	h.start()
	grows("after gridhub's restart", 20)

	stopReset()
	s.stop()
	time.Sleep(time.Second) // the last alerts reach the watcher
	mu.Lock()
	nWatched := len(watched)
	mu.Unlock()
	checkDelivered(t, h, w, data, sensord)
	_, raised := hubEvents(t, h.data+"/hub.db", "e2e-1")
	if nWatched == 0 || nWatched > len(raised) {
		t.Errorf("the watching worker saw %d alarm alerts, the hub raised %d", nWatched, len(raised))
	}
	t.Logf("the watching worker saw %d of %d alarm alerts live (the rest while its node or the hub was away)", nWatched, len(raised))
}
