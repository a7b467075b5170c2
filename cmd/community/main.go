// Command community runs a whole simulated community on one machine for
// `make run`: gridhub with its embedded broker, several simulated meter
// boxes (the real sensord over simulated chips), one of them catching fire,
// a kiosk rendering to a PNG, and a grid worker's `gridctl watch`. gridhub
// also serves its web console (--http, default 127.0.0.1:8080), whose URL
// and a login are printed. Every process's output is shown with its name in
// front. Ctrl-C stops them all.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

type config struct {
	bin      string        // folder of the built binaries
	dir      string        // run folder (data, configs, kiosk.png); wiped at start
	listen   string        // embedded broker address
	http     string        // the hub's web console address; empty: none
	sensors  int           // simulated meter boxes
	fire     string        // which one runs meterbox-fire
	speed    float64       // simulation speed-up of the sensors
	escalate time.Duration // grid escalation time for the demo
	kiosk    bool
	template string        // sensord configuration the meter boxes start from
	duration time.Duration // 0: until Ctrl-C
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "bin", "folder of the built binaries")
	flag.StringVar(&cfg.dir, "dir", "bin/run", "run folder: data, configs, kiosk screen (wiped at start)")
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:1883", "address of the hub's embedded MQTT broker")
	flag.StringVar(&cfg.http, "http", "127.0.0.1:8080", "address of the hub's web console (empty: none)")
	flag.IntVar(&cfg.sensors, "sensors", 4, "number of simulated meter boxes (1-6)")
	flag.StringVar(&cfg.fire, "fire", "mb-0001", "the meter box that runs the meterbox-fire scenario")
	flag.Float64Var(&cfg.speed, "speed", 10, "simulation speed-up of the sensors")
	flag.DurationVar(&cfg.escalate, "escalate", 30*time.Second, "how long an alert waits for an acknowledgement before it escalates")
	flag.StringVar(&cfg.template, "sensor-template", "cmd/sensord/testdata/meterbox.json", "sensord configuration the simulated meter boxes start from")
	flag.BoolVar(&cfg.kiosk, "kiosk", true, "run a kiosk too (renders to DIR/kiosk.png)")
	flag.DurationVar(&cfg.duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	if err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
