package ds18b20_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"linli/devices/ds18b20"
)

func Example() {
	// On a board, nil options read /sys/bus/w1/devices. Here a fake tree.
	root, err := os.MkdirTemp("", "w1")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "28-0316a2795aff")
	if err := os.Mkdir(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	slave := "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
	if err := os.WriteFile(filepath.Join(dir, "w1_slave"), []byte(slave), 0o644); err != nil {
		log.Fatal(err)
	}

	d, err := ds18b20.Open("28-0316a2795aff", &ds18b20.Opts{Root: root})
	if err != nil {
		log.Fatal(err)
	}
	t, err := d.Temperature()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d, t)
	// Output: DS18B20{28-0316a2795aff} 23.125°C
}
