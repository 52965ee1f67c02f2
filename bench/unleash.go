package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/Unleash/unleash-client-go/v4"
	"github.com/Unleash/unleash-client-go/v4/api"
	ucontext "github.com/Unleash/unleash-client-go/v4/context"
)

// Unleash is Unleash's Go SDK bootstrapped from a features file. It never
// touches the network: its HTTP client's transport answers every request
// (the features fetch) from the same file in memory, and metrics are off.
//
// A rule is a "default" strategy with constraints; a variant rule carries a
// strategy variant of weight 1000; a rollout is a "flexibleRollout" strategy
// on userId; a segment is an Unleash segment. A bool flag that defaults to
// true with no rules is an enabled toggle without strategies; one that
// defaults to false without rules is a disabled toggle.
type Unleash struct {
	client   *unleash.Client
	dir      string
	fallback map[string]*api.Variant
	flags    []flagSpec
}

// unleashFeatures writes the scenarios as an Unleash client features response.
func unleashFeatures() ([]byte, error) {
	segIDs := map[string]int{}
	var segs []map[string]any
	for i, s := range segments() {
		segIDs[s.name] = i + 1
		constraints, _ := unleashConstraints(s.conds, nil)
		segs = append(segs, map[string]any{"id": i + 1, "name": s.name, "constraints": constraints})
	}
	var features []map[string]any
	for _, f := range allFlags() {
		strategies := []map[string]any{}
		if f.rollout > 0 {
			strategies = append(strategies, map[string]any{
				"name":       "flexibleRollout",
				"parameters": map[string]any{"rollout": strconv.Itoa(f.rollout), "stickiness": "userId", "groupId": f.name},
			})
		}
		for _, r := range f.rules {
			constraints, ids := unleashConstraints(r.conds, segIDs)
			s := map[string]any{
				"name":        "default",
				"constraints": constraints,
				"segments":    ids,
				"parameters":  map[string]any{"groupId": f.name},
			}
			if !f.isBool() {
				s["variants"] = []map[string]any{{"name": r.value, "weight": 1000, "stickiness": "default", "weightType": "variable"}}
			}
			strategies = append(strategies, s)
		}
		enabled := f.def == "true" || len(strategies) > 0 || !f.isBool()
		features = append(features, map[string]any{
			"name": f.name, "type": "release", "enabled": enabled, "strategies": strategies,
		})
	}
	return json.Marshal(map[string]any{"version": 2, "features": features, "segments": segs})
}

// unleashConstraints writes conds as constraints, segment references apart.
func unleashConstraints(cs []cond, segIDs map[string]int) ([]map[string]any, []int) {
	constraints := []map[string]any{}
	ids := []int{}
	for _, c := range cs {
		name := c.attrIn("userId")
		switch c.op {
		case opSegment:
			ids = append(ids, segIDs[c.seg])
		case opEq:
			if c.isInt() {
				constraints = append(constraints, map[string]any{"contextName": name, "operator": "NUM_EQ", "value": strconv.FormatInt(c.num, 10)})
			} else {
				constraints = append(constraints, map[string]any{"contextName": name, "operator": "IN", "values": c.strs})
			}
		case opIn:
			constraints = append(constraints, map[string]any{"contextName": name, "operator": "IN", "values": c.strs})
		case opGt, opLt, opGe:
			op := map[string]string{opGt: "NUM_GT", opLt: "NUM_LT", opGe: "NUM_GTE"}[c.op]
			constraints = append(constraints, map[string]any{"contextName": name, "operator": op, "value": strconv.FormatInt(c.num, 10)})
		}
	}
	return constraints, ids
}

// fileTransport answers every request with the features file, so the SDK's
// fetches never leave the process.
type fileTransport []byte

func (f fileTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(f)), Request: r,
	}, nil
}

// unleashReadiness is closed when the SDK has loaded its features: a
// repository listener, which the SDK's sync loop calls once.
type unleashReadiness chan struct{}

func (r unleashReadiness) OnReady()  { close(r) }
func (r unleashReadiness) OnUpdate() {}

// unleashReady bounds the wait for the SDK to load its features.
const unleashReady = 2 * time.Minute

// NewUnleash starts the Unleash SDK on the scenarios' features file.
func NewUnleash() (*Unleash, error) {
	doc, dir, err := docAndDir(unleashFeatures, "vexil-bench-unleash")
	if err != nil {
		return nil, err
	}
	ready := unleashReadiness(make(chan struct{}))
	client, err := unleash.NewClient(
		unleash.WithAppName("vexil-bench"),
		unleash.WithUrl("http://127.0.0.1/api/"),
		unleash.WithStorage(&unleash.BootstrapStorage{Reader: bytes.NewReader(doc)}),
		unleash.WithHttpClient(&http.Client{Transport: fileTransport(doc)}),
		unleash.WithDisableMetrics(true),
		unleash.WithRefreshInterval(time.Hour),
		unleash.WithBackupPath(dir),
		unleash.WithListener(ready),
	)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The SDK's own sync loop says when the bootstrap file is read, through
	// the listener: neither Ready() (a one-value channel that loop also
	// reads, so waiting on it loses that race now and then) nor
	// WaitForReady (which nothing wakes once the client is closed, so a
	// goroutine waiting on it would leak on a timeout). Reading the file is
	// quick, but a loaded CI machine can take its time: the bound is
	// generous.
	select {
	case <-ready:
	case <-time.After(unleashReady):
		client.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("unleash: not ready after %v", unleashReady)
	}
	u := &Unleash{client: client, dir: dir, fallback: map[string]*api.Variant{}, flags: allFlags()}
	for _, f := range u.flags {
		u.fallback[f.name] = &api.Variant{Name: f.def, Enabled: true}
	}
	return u, nil
}

func unleashContext(t *Target) ucontext.Context {
	return ucontext.Context{
		UserId: t.Key,
		Properties: map[string]string{
			attrCountry: t.Country, attrPlan: t.Plan,
			attrSeats: strconv.FormatInt(t.Seats, 10), attrAge: strconv.FormatInt(t.Age, 10),
			attrSchoolID: strconv.FormatInt(t.SchoolID, 10),
		},
	}
}

func (u *Unleash) NoRules(t *Target) bool {
	return u.client.IsEnabled(flagNoRules, unleash.WithContext(unleashContext(t)))
}

func (u *Unleash) Targeting(t *Target) bool {
	return u.client.IsEnabled(flagTargeting, unleash.WithContext(unleashContext(t)))
}

func (u *Unleash) Rollout(t *Target) bool {
	return u.client.IsEnabled(flagRollout, unleash.WithContext(unleashContext(t)))
}

func (u *Unleash) Close() {
	u.client.Close()
	os.RemoveAll(u.dir)
}

// All asks for every flag in turn: Unleash's SDK has no bulk evaluation.
// Variant flags go through GetVariant with their default as the fallback.
func (u *Unleash) All(t *Target, out *Answers) {
	c := unleashContext(t)
	for i, f := range u.flags {
		if f.isBool() {
			out[i] = boolAnswer(u.client.IsEnabled(f.name, unleash.WithContext(c)))
		} else {
			out[i] = u.client.GetVariant(f.name, unleash.WithVariantContext(c), unleash.WithVariantFallback(u.fallback[f.name])).Name
		}
	}
}
