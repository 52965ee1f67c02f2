// Command flagd-flags prints the benchmark's flags as a flagd flag
// definition (JSON), for bench/peer.sh to serve from a flagd process.
package main

import (
	"fmt"
	"os"

	"github.com/vexilhq/vexil/bench"
)

func main() {
	doc, err := bench.FlagdConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "flagd-flags:", err)
		os.Exit(1)
	}
	os.Stdout.Write(append(doc, '\n'))
}
