// Package projects holds demo.sh, the multi-project walk-through, and the
// two services' flags.yaml it pushes; its test runs the script so the
// walk-through cannot drift from what vexil does.
package projects

import (
	"os"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

// TestDemo runs demo.sh against the vexil built from this checkout.
func TestDemo(t *testing.T) { vexiltest.Demo(t, "demo.sh") }
