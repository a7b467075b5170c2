// Package ds18b20 reads Maxim (Analog Devices) DS18B20 1-Wire temperature
// probes through the Linux kernel's w1 subsystem (w1-gpio and w1_therm).
//
// The kernel bit-bangs the bus and exposes each probe as a directory
// /sys/bus/w1/devices/28-xxxxxxxxxxxx. Reading its w1_slave file starts a
// conversion and blocks until it is done (≈750 ms at the default 12-bit
// resolution), then shows the scratchpad, the kernel's CRC verdict and the
// temperature in m°C:
//
//	72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//	72 01 4b 46 7f ff 0e 10 57 t=23125
//
// Newer kernels (5.10+) also have a temperature file holding only
// "23125"; it is read when w1_slave is missing.
//
// # Failures
//
// Open returns an error wrapping devices.ErrAbsent when the probe's
// directory does not exist (the kernel never found it). Temperature wraps
// devices.ErrNoAnswer when the files are gone or unreadable (the probe left
// the bus), when the kernel reports "crc=.. NO" or the text cannot be
// parsed, and devices.ErrOutOfRange for the power-on value 85.000 °C (a
// conversion that never ran: a brown-out in parasite power), for −127 °C
// and anything outside the probe's −55…125 °C range. A real 85.000 °C is
// therefore reported as out of range too; 84.9375 and 85.0625 are not.
//
// Tests and the simulator point Opts.Root at a fake tree.
//
// # Without the kernel driver
//
// NewOneWire reads a probe through a periph onewire.Bus instead (a DS2482
// I²C bridge, for example): Convert T (0x44) with a strong pull-up for
// parasite power, a wait of the conversion time for the probe's resolution
// (93.75 ms at 9 bits to 750 ms at 12), then Read Scratchpad (0xBE). The
// driver checks the scratchpad's CRC8 and its configuration byte itself (an
// all-zero answer has a valid CRC), with the same errors as above.
//
// # Datasheets
//
// https://www.analog.com/media/en/technical-documentation/data-sheets/DS18B20.pdf
// (power-up value 0x0550 = +85 °C, range −55…+125 °C, CRC8 x⁸+x⁵+x⁴+1);
// https://docs.kernel.org/w1/slaves/w1_therm.html.
package ds18b20
