package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// Telemetry ingest bounds: a report is at most this many bytes and entries
// (500 flags × 2 variants × 2 reasons is 2,000 entries, about 150 KiB).
const (
	maxTelemetryBody    = 512 << 10
	maxTelemetryEntries = 10000
	// maxReportCount bounds one entry's count, so a hostile client cannot
	// overflow an hour's sum: 10^12 is 16 billion evaluations a second for
	// a minute.
	maxReportCount = 1_000_000_000_000
)

// telemetry is the server's side of evaluation counts.
type telemetry struct {
	ofrep evalCounts // OFREP evaluations, counted like an SDK client's
}

var reasonNames = func() []string {
	var out []string
	for r := vexilrt.ReasonDefault; r <= vexilrt.ReasonError; r++ {
		out = append(out, r.String())
	}
	return out
}()

// variantsOf returns the variant names a flag of the project can answer
// (an alias's are its flag's), or false for a flag its definitions do not
// have.
func variantsOf(p *project, flag string) ([]string, bool) {
	vs, ok := p.cur.Load().variants[flag]
	return vs, ok
}

// ingestTelemetry adds a client's evaluation counts to the current hour.
// Counts for flags, variants or reasons this server does not know are
// ignored and named in the answer, so a client built from a newer
// flags.yaml loses only those.
func (s *Server) ingestTelemetry(w http.ResponseWriter, r *http.Request, c *call) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTelemetryBody)
	var rep api.TelemetryReport
	if !decodeJSON(w, r, &rep) {
		return
	}
	if len(rep.Counts) > maxTelemetryEntries {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("%d counts: at most %d in one report", len(rep.Counts), maxTelemetryEntries), nil)
		return
	}
	var problems []string
	keep := make([]store.EvalCount, 0, len(rep.Counts))
	for i, ec := range rep.Counts {
		vs, ok := variantsOf(c.env.proj, ec.Flag)
		switch {
		case ec.Count <= 0 || ec.Count > maxReportCount:
			problems = append(problems, fmt.Sprintf("counts[%d]: count %d: want 1 to %d", i, ec.Count, int64(maxReportCount)))
		case !ok:
			problems = append(problems, fmt.Sprintf("counts[%d]: unknown flag %q", i, ec.Flag))
		case !slices.Contains(vs, ec.Variant):
			problems = append(problems, fmt.Sprintf("counts[%d]: flag %s has no variant %q", i, ec.Flag, ec.Variant))
		case !slices.Contains(reasonNames, ec.Reason):
			problems = append(problems, fmt.Sprintf("counts[%d]: unknown reason %q", i, ec.Reason))
		default:
			keep = append(keep, store.EvalCount(ec))
		}
	}
	if err := s.st.AddEvaluations(r.Context(), c.env.proj.name, c.env.name, time.Now(), keep); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return
	}
	for _, ec := range keep {
		s.metrics.evaluations.WithLabelValues(c.env.proj.name, c.env.name, ec.Flag, ec.Variant, ec.Reason).Add(float64(ec.Count))
	}
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("and %d more", len(problems)-10))
	}
	writeJSON(w, http.StatusOK, api.TelemetryAnswer{Accepted: len(keep), Ignored: nonNil(problems)})
}

// telemetryRanges are the ranges a flag's telemetry is shown for.
var telemetryRanges = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": store.TelemetryRetention}

func rangeParam(w http.ResponseWriter, r *http.Request, def string) (string, time.Duration, bool) {
	name := r.URL.Query().Get("range")
	if name == "" {
		name = def
	}
	d, ok := telemetryRanges[name]
	if !ok {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("range %q: want 24h, 7d, 30d or 90d", name), nil)
	}
	return name, d, ok
}

// flagTelemetry reads a flag's hourly counts in a project's environment for
// the hours ending with the current one.
func (s *Server) flagTelemetry(ctx context.Context, e *envState, flag, rangeName string, d time.Duration, now time.Time) (*api.FlagTelemetry, error) {
	env := e.name
	vs, ok := variantsOf(e.proj, flag)
	if !ok {
		return nil, fmt.Errorf("unknown flag %q: %w", flag, store.ErrNotFound)
	}
	hours := int(d / time.Hour)
	from := now.UTC().Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	pts, err := s.st.Evaluations(ctx, e.proj.name, env, flag, from)
	if err != nil {
		return nil, err
	}
	ft := &api.FlagTelemetry{Env: env, Flag: flag, Range: rangeName, From: from, Hours: hours, Variants: []api.VariantSeries{}}
	idx := map[string]int{}
	series := func(v string) *api.VariantSeries {
		i, ok := idx[v]
		if !ok {
			i = len(ft.Variants)
			idx[v] = i
			ft.Variants = append(ft.Variants, api.VariantSeries{Variant: v, Reasons: map[string]int64{}, Hourly: make([]int64, hours)})
		}
		return &ft.Variants[i]
	}
	for _, v := range vs {
		series(v)
	}
	for _, p := range pts {
		h := int(p.Hour.Sub(from) / time.Hour)
		if h < 0 || h >= hours {
			continue
		}
		vs := series(p.Variant)
		vs.Hourly[h] += p.Count
		vs.Total += p.Count
		vs.Reasons[p.Reason] += p.Count
		ft.Total += p.Count
	}
	last, err := s.st.LastEvaluated(ctx, e.proj.name, env, flag)
	if err != nil {
		return nil, err
	}
	if !last.IsZero() {
		ft.LastEvaluated = &last
	}
	return ft, nil
}

func (s *Server) getFlagTelemetry(w http.ResponseWriter, r *http.Request, c *call) {
	name, d, ok := rangeParam(w, r, "24h")
	if !ok {
		return
	}
	ft, err := s.flagTelemetry(r.Context(), c.env, r.PathValue("flag"), name, d, time.Now())
	answer(w, ft, err)
}

// getEnvTelemetry says when each defined flag was last evaluated, and
// since when the environment has telemetry: what `vexil check --server`
// reads to find flags nothing evaluates. It reads a few index entries a
// flag, never the hours themselves.
func (s *Server) getEnvTelemetry(w http.ResponseWriter, r *http.Request, c *call) {
	var names []string
	for _, f := range c.env.proj.cur.Load().defs.Flags {
		names = append(names, f.Name)
	}
	act, err := s.st.Activity(r.Context(), c.env.proj.name, c.env.name, names)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return
	}
	var since *time.Time
	flags := []api.FlagActivity{}
	for _, a := range act {
		fj := api.FlagActivity{Flag: a.Flag}
		if !a.Last.IsZero() {
			fj.LastEvaluated = &a.Last
			if since == nil || a.First.Before(*since) {
				since = &a.First
			}
		}
		flags = append(flags, fj)
	}
	writeJSON(w, http.StatusOK, api.EnvTelemetry{Env: c.env.name, CollectingSince: since, Flags: flags})
}

// pruneTelemetry deletes the hours past the retention at start and every
// hour after, until ctx ends.
func (s *Server) pruneTelemetry(ctx context.Context) {
	s.hourly(ctx, "telemetry", func(ctx context.Context) (int64, error) {
		return s.st.PruneEvaluations(ctx, time.Now().Add(-store.TelemetryRetention))
	})
}

// hourly runs prune at start and every hour after, until ctx ends, logging
// what it deleted.
func (s *Server) hourly(ctx context.Context, what string, prune func(context.Context) (int64, error)) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("pruning "+what+" failed", "err", err)
		} else if n > 0 {
			s.log.Info("pruned "+what, "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// putCodeReferences replaces the project's environment's code references
// with the uploaded list.
func (s *Server) putCodeReferences(w http.ResponseWriter, r *http.Request, c *call) {
	var refs []api.CodeReference
	if !decodeJSON(w, r, &refs) {
		return
	}
	var problems []any
	for i, ref := range refs {
		if ref.File == "" || ref.Line < 1 || ref.Col < 0 || ref.Flag == "" {
			problems = append(problems, fmt.Sprintf("[%d]: want a file, a line from 1, a column and a flag", i))
		}
		if len(problems) == 10 {
			break
		}
	}
	if problems != nil {
		writeError(w, http.StatusBadRequest, "invalid", "not the output of vexil check --usage --format json", problems)
		return
	}
	link := r.URL.Query().Get("link")
	if link != "" && !strings.HasPrefix(link, "https://") && !strings.HasPrefix(link, "http://") || len(link) > 1000 {
		writeError(w, http.StatusBadRequest, "invalid", "link: want an http(s) URL of at most 1,000 bytes with {file} and {line} in it", nil)
		return
	}
	cr := api.CodeReferences{UploadedAt: time.Now().UTC(), UploadedBy: c.actor(), LinkTemplate: link, References: nonNil(refs)}
	body, err := json.Marshal(cr)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	if err := s.st.PutCodeReferences(r.Context(), store.CodeReferences{Project: c.env.proj.name, Env: c.env.name, Body: string(body), UploadedBy: c.actor(), UploadedAt: cr.UploadedAt}); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return
	}
	s.audit(r.Context(), auditEvent{actor: c.actor(), project: c.env.proj.name, env: c.env.name, action: "code-references", outcome: "ok",
		detail: fmt.Sprintf("%d references", len(refs))})
	writeJSON(w, http.StatusOK, api.CodeReferencesUploaded{References: len(refs), UploadedAt: cr.UploadedAt})
}

// getCodeReferences returns the latest upload, or only one flag's
// references with ?flag=.
func (s *Server) getCodeReferences(w http.ResponseWriter, r *http.Request, c *call) {
	cr, err := s.codeReferences(r.Context(), c.env.proj.name, c.env.name, r.URL.Query().Get("flag"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no code references were uploaded for %s", c.env.name), nil)
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, cr)
}

func (s *Server) codeReferences(ctx context.Context, project, env, flag string) (*api.CodeReferences, error) {
	stored, err := s.st.GetCodeReferences(ctx, project, env)
	if err != nil {
		return nil, err
	}
	var cr api.CodeReferences
	if err := json.Unmarshal([]byte(stored.Body), &cr); err != nil {
		return nil, fmt.Errorf("code references of %s/%s: %w", project, env, err)
	}
	if flag != "" {
		cr.References = slices.DeleteFunc(cr.References, func(r api.CodeReference) bool { return r.Flag != flag })
	}
	cr.References = nonNil(cr.References)
	return &cr, nil
}
