package updater_test

import (
	"fmt"
	"os"

	"linli/firmware/bundle"
	"linli/firmware/updater"
)

// A device program calls Boot first at every start, and Commit once it has
// proved healthy.
func Example() {
	root, _ := os.MkdirTemp("", "linli-root")
	defer os.RemoveAll(root)
	_, pubPEM, _ := bundle.GenerateKey()
	roots, _ := bundle.ParsePublicKeys(pubPEM)

	u, err := updater.Open(&updater.Options{Root: root, Roots: roots})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer u.Close()
	status, _, err := u.Boot()
	fmt.Println(status, err)
	// … start, connect, self-test; then:
	if status == updater.OnTrial {
		u.Commit()
	}
	// Output: normal <nil>
}
