package ops_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"linli/web/ops"
)

func Example() {
	ready := make(chan struct{})
	o := ops.New(&ops.Options{
		Checks: []ops.Check{ops.HubConnected(ready, nil)},
		HTTP: func() ops.HTTPStats {
			return ops.HTTPStats{RefusedLogins: 1, SSEClients: 3, Latency: ops.NewHistogram(nil).Snapshot()}
		},
		Now: func() time.Time { return time.Unix(1795770000, 0) },
	})
	h := o.Handler() // mount it on the web server, e.g. mux.Handle("/metrics", h)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	close(ready) // the hub connected
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 503 not ready: broker: hub not connected to the broker
	// 200 ready
}
