package ui

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest/inproc"
)

const experimentDefs = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
metrics:
  purchase: {type: sum}
flags:
  workbook: {variants: [classic, guided], default: classic, kind: experiment, metrics: [purchase]}
`

// postLines posts event lines as a client's batch.
func postLines(t *testing.T, base, token, id string, lines []string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/sdk/v1/envs/dev/events", strings.NewReader(strings.Join(lines, "\n")))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Vexil-Batch-Id", id)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("posting events: %v %v", res, err)
	}
	res.Body.Close()
}

// The Experiments pages show the units, the results table with its sample
// ratio banner and the lift chart, and Ship saves a version that gives the
// variant to everyone.
func TestExperimentPages(t *testing.T) {
	api := inproc.Start(t, inproc.Options{Definitions: experimentDefs, Tokens: []inproc.Token{{Secret: bootstrapToken, Name: "bootstrap", Role: "admin"}}})
	api.Save("dev", "alice", "rules:\n  half: {filter: \"insplit(attr:user_id, 0, 50)\", variants: {workbook: guided}}\n", "the experiment")
	sdk := makeToken(t, api.API.URL, "app", "sdk")
	// Three days, 9 classic units to 1 guided: a sample ratio mismatch
	// against the rules' 50/50.
	t0 := time.Now().UTC().Add(-48 * time.Hour)
	var lines []string
	for i := range 300 {
		v := "classic"
		if i%10 == 0 {
			v = "guided"
		}
		at := t0.Add(time.Duration(i) * 10 * time.Minute)
		lines = append(lines, fmt.Sprintf(`{"flag":"workbook","variant":%q,"key":"u%d","time":%q}`, v, i, at.Format(time.RFC3339)),
			fmt.Sprintf(`{"event":"purchase","key":"u%d","value":%d,"time":%q}`, i, i%7, at.Add(time.Minute).Format(time.RFC3339)))
	}
	postLines(t, api.API.URL, sdk, "ui-1", lines)

	b := uiOf(t, api.Handler())
	b.signIn(bootstrapToken)
	code, body := b.get("/ui/envs/dev/experiments")
	if code != 200 {
		t.Fatalf("experiments: %d\n%s", code, body)
	}
	mustContain(t, body, `href="/ui/envs/dev/experiments/workbook"><code>workbook</code></a>`, "classic 270 · guided 30", "(mismatch)",
		`class="on">Experiments</a>`)
	code, body = b.get("/ui/envs/dev/experiments/workbook")
	if code != 200 {
		t.Fatalf("experiment: %d\n%s", code, body)
	}
	mustContain(t, body, "Sample ratio mismatch", `<h2 id="m-purchase">purchase`, "<code>classic</code> (control)</td><td>270</td>",
		"<code>guided</code></td><td>30</td>", `<polygon fill="#D55E00" fill-opacity="0.15"`, `<polyline fill="none" stroke="#D55E00"`,
		"intended split guided 50%, classic 50%", ">Ship guided</button>", ">Ship classic</button>")
	if strings.Contains(body, " style=") {
		t.Errorf("an inline style the CSP refuses:\n%s", body)
	}

	_, body = b.post("/ui/envs/dev/experiments/workbook/ship", map[string][]string{"variant": {"guided"}, "base": {"1"}})
	mustContain(t, body, "Saved version 2: rule ship_workbook gives guided to everyone")
	v := api.Current("dev")
	if v.Version != 2 || !strings.Contains(v.Rules, "ship_workbook:") || !strings.Contains(v.Message, "ship guided of workbook") {
		t.Fatalf("saved: %d %q %q", v.Version, v.Message, v.Rules)
	}
	// Everyone gets guided now: the rules give the whole split to it.
	_, body = b.get("/ui/envs/dev/experiments/workbook")
	mustContain(t, body, "intended split guided 100%")
	// A stale page's ship is refused, not saved over a newer version.
	_, body = b.post("/ui/envs/dev/experiments/workbook/ship", map[string][]string{"variant": {"classic"}, "base": {"1"}})
	mustContain(t, body, "Not saved: someone saved a newer version")
}

func TestShipRules(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "rules:\n    ship_workbook:\n        priority: 0\n        variants: {workbook: guided}\n"},
		{"above the flag's rules, comments kept", "# the experiment\nrules:\n  half: {filter: \"insplit(attr:user_id, 0, 50)\", priority: 3, variants: {workbook: guided}}\n  other: {priority: 9, variants: {new_report: true}}\n",
			"ship_workbook:\n        priority: 4\n"},
		{"name taken", "rules:\n  ship_workbook: {variants: {workbook: classic}}\n", "ship_workbook_2:"},
		{"json", `{"rules": {"half": {"filter": "insplit(attr:user_id, 0, 50)", "variants": {"workbook": "guided"}}}}`, "ship_workbook:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := shipRules(tc.in, "workbook", "guided")
			if err != nil || !strings.Contains(out, tc.want) {
				t.Fatalf("got %q, %v; want it to hold %q", out, err, tc.want)
			}
			if strings.HasPrefix(strings.TrimSpace(out), "{") {
				t.Errorf("written in flow style, which a save would take for JSON: %q", out)
			}
			if strings.HasPrefix(tc.in, "#") && !strings.Contains(out, "# the experiment") {
				t.Errorf("the comment is gone: %q", out)
			}
		})
	}
	if _, _, err := shipRules("rules: [", "workbook", "guided"); err == nil {
		t.Error("bad rules: no error")
	}
}
