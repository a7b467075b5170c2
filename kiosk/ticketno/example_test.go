package ticketno_test

import (
	"fmt"
	"time"

	"linli/kiosk/ticketno"
)

func Example() {
	day := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	n := ticketno.Format("K7", day, 42)
	fmt.Println(n)
	fmt.Println(ticketno.Digits(n))
	_, err := ticketno.Parse("K7-261127-00432") // two digits swapped
	fmt.Println(err)
	// Output:
	// K7-261127-00423
	// 26112700423
	// ticketno: check digit mismatch: "K7-261127-00432"
}
