package transfer_test

import (
	"fmt"

	"linli/firmware/transfer"
)

func Example() {
	msg := transfer.EncodeBlock("t-42", 7, []byte("sixteen KiB of firmware…"))
	id, index, data, err := transfer.DecodeBlock(msg)
	fmt.Println(id, index, len(data), err)
	// Output: t-42 7 26 <nil>
}
