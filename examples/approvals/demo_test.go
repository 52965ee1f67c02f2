// Package approvals holds demo.sh, the approvals walk-through: prod
// requires a second person's approval. Its test runs the script so the
// walk-through cannot drift from what vexil does.
package approvals

import (
	"os"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

// TestDemo runs demo.sh against the vexil built from this checkout.
func TestDemo(t *testing.T) { vexiltest.Demo(t, "demo.sh") }
