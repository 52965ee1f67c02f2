package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// generateLine is the README's directive, split so that the search for
// this repository's own directives does not take it for one.
const generateLine = "//go:" + "generate go tool vexil generate -o flags"

// The files of a new application adopting vexil: its definitions, rules,
// a main that follows the rules file, and a test of its own.
var adoptFiles = map[string]string{
	"flags.yaml": `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
  plan:    {type: string, values: [free, pro]}
flags:
  new_checkout:
    default: false
    description: One-page checkout.
    owner: shop-team
  page_size:
    variants: [20, 50]
    default: 20
    description: Products per page.
    owner: shop-team
`,
	"rules.yaml": `rules:
  pro_checkout:
    filter: attr:plan = 'pro'
    variants: {new_checkout: true, page_size: 50}
`,
	"main.go": `// Command app is a service adopting vexil from scratch.
package main

` + generateLine + `

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"example.com/app/flags"
	"github.com/vexilhq/vexil/runtime/client"
)

func main() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Options{Definitions: flags.Definitions(), Source: client.File("rules.yaml", time.Second)})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	v := flags.New(c).For(ctx, flags.Target{UserID: os.Args[1], Plan: flags.Plan(os.Args[2])})
	fmt.Println(v.NewCheckout(), v.PageSize())
}
`,
	"main_test.go": `package main

import (
	"context"
	"testing"
	"time"

	"example.com/app/flags"
	"github.com/vexilhq/vexil/runtime/client"
)

func TestProGetsTheNewCheckout(t *testing.T) {
	ctx := context.Background()
	c, err := client.New(ctx, client.Options{Definitions: flags.Definitions(), Source: client.File("rules.yaml", time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ff := flags.New(c)
	if v := ff.For(ctx, flags.Target{UserID: "u-1", Plan: flags.PlanPro}); !v.NewCheckout() || v.PageSize() != 50 {
		t.Errorf("pro: %v %v", v.NewCheckout(), v.PageSize())
	}
	if v := ff.For(ctx, flags.Target{UserID: "u-2", Plan: flags.PlanFree}); v.NewCheckout() || v.PageSize() != 20 {
		t.Errorf("free: %v %v", v.NewCheckout(), v.PageSize())
	}
}
`,
	// The same program without flags, to measure what vexil adds.
	"baseline/main.go": `// Command baseline is app without vexil, to measure what vexil adds.
package main

import (
	"fmt"
	"os"
)

func main() { fmt.Println(os.Args[1] == "pro", 20) }
`,
}

// Modules an application must never link by adopting vexil: the server's
// databases, the generator and the checker belong to the vexil tool only.
var notLinked = []string{"github.com/jackc/pgx", "modernc.org/sqlite", "modernc.org/libc", "golang.org/x/tools",
	"github.com/dave/jennifer", "github.com/99designs/gqlgen", "gonum.org/v1/gonum", "github.com/chromedp"}

// TestAdoptInFreshModule does what the README tells a new user to do, in a
// new module that reaches this checkout through a replace directive: go get
// -tool, a //go:generate line running go tool vexil, go build, go test. It
// works offline from the module cache (go.sum is seeded from this
// checkout's, whose hashes the cache was verified against), and it reports
// what adoption added to go.mod and to the binary. It takes about 20 s on
// a warm build cache, so it runs under -short too.
func TestAdoptInFreshModule(t *testing.T) {
	t.Parallel() // minutes of building and waiting, independent of the other tests
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/app\n\ngo 1.26\n\nreplace github.com/vexilhq/vexil => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	for name, text := range adoptFiles {
		write(name, text)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// go get in the new module reads the go.mod of every module in vexil's
	// graph, old ones too (pgx's pgpassfile requires testify v1.3.0), which
	// this checkout's own build never needs. Listing the graph here, with
	// the environment's proxy, puts them in the module cache on a fresh
	// machine; without a proxy a warm cache may still hold them.
	list := exec.CommandContext(ctx, "go", "list", "-m", "all")
	list.Dir, list.Env = root, append(os.Environ(), "GOWORK=off")
	if out, err := list.CombinedOutput(); err != nil {
		t.Logf("go list -m all in %s (continuing offline): %v\n%s", root, err, out)
	}
	// Offline: everything comes from the module cache this checkout's own
	// build filled (a proxy answering 403 for the replaced path would fail).
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOPROXY=off")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("go", "get", "-tool", "github.com/vexilhq/vexil/cmd/vexil")
	if v := run("go", "tool", "vexil", "version"); !strings.Contains(v, "vexil ") {
		t.Errorf("go tool vexil version: %q", v)
	}
	run("go", "generate", "./...")
	if _, err := os.Stat(filepath.Join(dir, "flags", "flags_gen.go")); err != nil {
		t.Fatalf("go generate wrote no flags package: %v", err)
	}
	run("go", "tool", "vexil", "generate", "--check", "-o", "flags")
	run("go", "build", "-o", "app", ".")
	run("go", "build", "-o", "baseline.bin", "./baseline")
	run("go", "test", "./...")
	app := exec.CommandContext(ctx, "./app", "u-1", "pro")
	app.Dir = dir
	if got, err := app.Output(); err != nil || string(got) != "true 50\n" {
		t.Errorf("./app u-1 pro printed %q (%v), want %q", got, err, "true 50\n")
	}

	// What adoption costs: go.mod's requirements, and what the binary links.
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	direct, indirect := 0, 0
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.Contains(f[0], ".") && !strings.HasPrefix(line, "module") && !strings.HasPrefix(line, "replace") && !strings.HasPrefix(line, "tool") {
			if strings.Contains(line, "// indirect") {
				indirect++
			} else {
				direct++
			}
		}
	}
	linked := run("go", "version", "-m", "app")
	var deps []string
	for _, line := range strings.Split(linked, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "dep" {
			deps = append(deps, f[1]+" "+f[2])
			for _, bad := range notLinked {
				if strings.HasPrefix(f[1], bad) {
					t.Errorf("the application links %s, which only the vexil tool needs", f[1])
				}
			}
		}
	}
	size := func(name string) int64 {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	t.Logf("go.mod after adoption: %d direct and %d indirect requirements, go.sum %d lines", direct, indirect, strings.Count(readFile(t, filepath.Join(dir, "go.sum")), "\n"))
	t.Logf("app %.1f MiB, the same program without vexil %.1f MiB: vexil adds %.1f MiB", mib(size("app")), mib(size("baseline.bin")), mib(size("app")-size("baseline.bin")))
	t.Logf("modules the app links (%d):\n\t%s", len(deps), strings.Join(deps, "\n\t"))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
