// Command benchtable reads `go test -bench` output of the side-by-side
// benchmarks on standard input and prints bench/README.md's table.
package main

import (
	"fmt"
	"os"

	"github.com/vexilhq/vexil/bench/benchtable"
)

func main() {
	rows, err := benchtable.Parse(os.Stdin)
	if err == nil {
		err = benchtable.Markdown(os.Stdout, rows, "vexil", []string{"vexil", "vexil-map"})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}
