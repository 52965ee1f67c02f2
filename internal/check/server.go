package check

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// RuleStuckRollout is the rule ID of partial rollouts left alone too long.
const RuleStuckRollout = "stuck-rollout"

// StuckAfter is how long a partial rollout may stay unchanged.
const StuckAfter = 90 * 24 * time.Hour

// maxResponse bounds what is read from a server.
const maxResponse = 16 << 20

// Remote is one environment of a vexil server, read through the admin API
// of docs/api.md.
type Remote struct {
	URL     string // the server's base URL: http://127.0.0.1:8080
	Project string // "" or "default" for the un-prefixed paths
	Env     string
	Token   string       // sent as a bearer token when set
	HTTP    *http.Client // nil means http.DefaultClient
}

// RemoteRules is an environment's current rules document.
type RemoteRules struct {
	Version int
	File    string // "<env>@v<version>": the name positions use
	Text    []byte // the document as the server sent it
	Doc     *vexilrt.RulesDoc
}

// Rules fetches the current rules document, as YAML so that positions are
// those of the text as it was saved.
func (r *Remote) Rules(ctx context.Context) (*RemoteRules, error) {
	body, h, err := r.get(ctx, "rules", nil, "application/yaml")
	if err != nil {
		return nil, err
	}
	etag := strings.Trim(strings.TrimPrefix(h.Get("ETag"), "W/"), `"`)
	v, err := strconv.Atoi(etag)
	if err != nil {
		return nil, r.problem("rules", fmt.Sprintf("the ETag %q is not a version number", h.Get("ETag")))
	}
	file := fmt.Sprintf("%s@v%d", r.Env, v)
	doc, err := LoadRules(file, body)
	if err != nil {
		return nil, err
	}
	return &RemoteRules{Version: v, File: file, Text: body, Doc: doc}, nil
}

// versionAt returns the version that was current at t: the newest created
// at or before it, or nil when the environment is younger.
func (r *Remote) versionAt(ctx context.Context, t time.Time) (*api.VersionInfo, error) {
	q := url.Values{"limit": {"100"}}
	for {
		body, _, err := r.get(ctx, "versions", q, "application/json")
		if err != nil {
			return nil, err
		}
		var page api.Versions
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, r.problem("versions", err.Error())
		}
		for i := range page.Versions {
			if !page.Versions[i].Created.After(t) {
				return &page.Versions[i], nil
			}
		}
		if len(page.Versions) == 0 {
			return nil, nil
		}
		last := page.Versions[len(page.Versions)-1].Version
		if last <= 1 || q.Get("before") == strconv.FormatInt(last, 10) {
			return nil, nil
		}
		q.Set("before", strconv.FormatInt(last, 10))
	}
}

// rulesOf fetches the rules document of an old version.
func (r *Remote) rulesOf(ctx context.Context, n int) (*vexilrt.RulesDoc, error) {
	path := "versions/" + strconv.Itoa(n)
	body, _, err := r.get(ctx, path, nil, "application/json")
	if err != nil {
		return nil, err
	}
	var v api.VersionInfo
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, r.problem(path, err.Error())
	}
	if v.Rules == nil {
		return nil, r.problem(path, "the answer has no rules")
	}
	return LoadRules(fmt.Sprintf("%s@v%d", r.Env, n), []byte(*v.Rules))
}

func (r *Remote) endpoint(path string) string {
	return strings.TrimRight(r.URL, "/") + api.EnvPath(r.Project, r.Env, "/"+path)
}

func (r *Remote) problem(path, msg string) error {
	return &InputError{Problems: []string{fmt.Sprintf("GET %s: %s", r.endpoint(path), msg)}}
}

func (r *Remote) get(ctx context.Context, path string, q url.Values, accept string) ([]byte, http.Header, error) {
	body, h, status, err := r.fetch(ctx, path, q, accept)
	if err != nil || status == http.StatusOK {
		return body, h, err
	}
	var e api.ErrorBody
	msg := strconv.Itoa(status) + " " + http.StatusText(status)
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		msg += ": " + e.Error.Message
	}
	return nil, nil, r.problem(path, msg)
}

// fetch is get answering any status.
func (r *Remote) fetch(ctx context.Context, path string, q url.Values, accept string) ([]byte, http.Header, int, error) {
	u := r.endpoint(path)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, 0, r.problem(path, err.Error())
	}
	req.Header.Set("Accept", accept)
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	client := r.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, 0, r.problem(path, err.Error())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, 0, r.problem(path, err.Error())
	}
	return body, resp.Header, resp.StatusCode, nil
}

// RuleNotEvaluated is the rule ID of flags no client reported evaluating
// for NotEvaluatedAfter.
const RuleNotEvaluated = "not-evaluated"

// NotEvaluatedAfter is how long a flag may go unevaluated before it is a
// removal candidate.
const NotEvaluatedAfter = 30 * 24 * time.Hour

// NotEvaluated reports the flags that clients reported no evaluations of in
// the environment for NotEvaluatedAfter, from the server's telemetry. It
// says nothing until the server has collected for that long, nor for a
// server without telemetry (404).
func NotEvaluated(ctx context.Context, r *Remote, defs *vexilrt.Definitions, today time.Time) ([]Finding, error) {
	body, _, status, err := r.fetch(ctx, "telemetry", nil, "application/json")
	if err != nil || status == http.StatusNotFound {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, r.problem("telemetry", strconv.Itoa(status)+" "+http.StatusText(status))
	}
	var t api.EnvTelemetry
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, r.problem("telemetry", err.Error())
	}
	if t.CollectingSince == nil || t.CollectingSince.After(today.Add(-NotEvaluatedAfter)) {
		return nil, nil
	}
	var fs []Finding
	for _, f := range t.Flags {
		def, ok := defs.Flag(f.Flag)
		if !ok || f.LastEvaluated != nil && f.LastEvaluated.After(today.Add(-NotEvaluatedAfter)) {
			continue
		}
		last := "never in the " + strconv.Itoa(int(today.Sub(*t.CollectingSince).Hours()/24)) + " days kept"
		if f.LastEvaluated != nil {
			last = "last on " + f.LastEvaluated.UTC().Format(time.DateOnly)
		}
		fs = append(fs, at(def.Pos, RuleNotEvaluated, Info, f.Flag,
			"flag %s has not been evaluated in %s for %d days (%s): a candidate for removal",
			f.Flag, r.Env, int(NotEvaluatedAfter.Hours()/24), last))
	}
	return fs, nil
}

// StuckRollouts reports the partial rollouts of the current rules (enabled
// rules whose filter requires an insplit range narrower than [0, 100)) that
// are the same as in the version that was current StuckAfter before today:
// experiments nobody has finished. A rule is the same when its filter,
// variants, priority, enabled and split group are.
func StuckRollouts(ctx context.Context, r *Remote, defs *vexilrt.Definitions, cur *RemoteRules, today time.Time) ([]Finding, error) {
	a := newAnalysis(defs, cur.Doc, today)
	type rollout struct {
		rule  *vexilrt.RuleDef
		split constraint
	}
	var partial []rollout
	for _, ri := range a.rules {
		if ri.filter == nil || !ri.live() {
			continue
		}
		for _, c := range a.required(ri.filter, nil) {
			if c.split && c.hi-c.lo < 100 {
				partial = append(partial, rollout{ri.def, c})
				break
			}
		}
	}
	if len(partial) == 0 {
		return nil, nil
	}
	old, err := r.versionAt(ctx, today.Add(-StuckAfter))
	if err != nil || old == nil {
		return nil, err
	}
	then := cur.Doc
	if int(old.Version) != cur.Version {
		if then, err = r.rulesOf(ctx, int(old.Version)); err != nil {
			return nil, err
		}
	}
	var fs []Finding
	for _, p := range partial {
		i := slices.IndexFunc(then.Rules, func(x vexilrt.RuleDef) bool { return x.Name == p.rule.Name })
		if i < 0 || !sameRule(&then.Rules[i], p.rule) {
			continue
		}
		fs = append(fs, at(p.rule.Pos, RuleStuckRollout, Warning, "",
			"rule %s rolls out [%g, %g) of attr:%s and has not changed since version %d of %s, over %d days ago: finish the rollout or end it",
			p.rule.Name, p.split.lo, p.split.hi, p.split.attr, old.Version, old.Created.UTC().Format(time.DateOnly), int(StuckAfter.Hours()/24)))
	}
	return fs, nil
}

func sameRule(x, y *vexilrt.RuleDef) bool {
	if x.Filter != y.Filter || x.HasFilter != y.HasFilter || x.Priority != y.Priority || x.Enabled != y.Enabled ||
		x.SplitGroup != y.SplitGroup || len(x.Variants) != len(y.Variants) {
		return false
	}
	for i := range x.Variants {
		if x.Variants[i].Flag != y.Variants[i].Flag || x.Variants[i].Value != y.Variants[i].Value {
			return false
		}
	}
	return true
}
