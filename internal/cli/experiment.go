package cli

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/experiment"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

const experimentUsage = `usage: vexil experiment analyze --flag FLAG --metric NAME --exposures FILE... --events FILE...
    [--aggregate sum|count|any] [--control VARIANT] [--allocation V=W,...]
    [--flags flags.yaml] [--rules rules.yaml | --env NAME [--server URL] [--token T]]
    [--covariate-window 14d] [--sequential]
    [--format text|json]
       vexil experiment results --flag FLAG [--metric NAME]... [--aggregate sum|count|any]
    [--control VARIANT] [--sequential] [--env NAME] [--server URL] [--token T] [--project P]
    [--format text|json]`

func runExperiment(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) > 0 && args[0] == "results" {
		return runResults(ctx, args[1:], stdio)
	}
	if len(args) == 0 || args[0] != "analyze" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdio.Out, experimentUsage)
			return exitOK
		}
		fmt.Fprintln(stdio.Err, experimentUsage)
		return exitBadInput
	}
	return runAnalyze(ctx, args[1:], stdio)
}

// runResults prints a server's results for an experiment: per metric, the
// table analyze prints (or, with --format json, the server's answer).
func runResults(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("experiment results", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	flag := fs.String("flag", "", "the experiment flag (required)")
	var metrics stringList
	fs.Var(&metrics, "metric", "a metric (repeatable; default: the flag's metrics: in the server's definitions)")
	aggregate := fs.String("aggregate", "", "a unit's value: sum, count or any (default: the metric's type)")
	control := fs.String("control", "", "the control variant (default: the flag's control: or default)")
	sequential := fs.Bool("sequential", false, "always-valid p-values and intervals, safe to check every day")
	format := fs.String("format", "text", "output format: text or json")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	switch {
	case *flag == "":
		fmt.Fprintln(stdio.Err, "vexil experiment results: --flag is required")
		return exitBadInput
	case *format != "text" && *format != "json":
		fmt.Fprintf(stdio.Err, "vexil experiment results: --format must be text or json, not %q\n", *format)
		return exitBadInput
	}
	q := url.Values{}
	for _, m := range metrics {
		q.Add("metric", m)
	}
	if *aggregate != "" {
		q.Set("aggregate", *aggregate)
	}
	if *control != "" {
		q.Set("control", *control)
	}
	if *sequential {
		q.Set("sequential", "true")
	}
	path := c.envPath(*env, "/experiments/"+url.PathEscape(*flag))
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	b, _, err := c.do(ctx, "GET", path, nil)
	if err != nil {
		return fail(stdio.Err, "experiment results", "", err)
	}
	if *format == "json" {
		stdio.Out.Write(b)
		return exitOK
	}
	if err := writeResultsText(stdio.Out, b); err != nil {
		fmt.Fprintf(stdio.Err, "vexil experiment results: %v\n", err)
		return exitBadInput
	}
	return exitOK
}

// writeResultsText prints each metric's result as analyze's table, after a
// line saying where the results and the allocation come from.
func writeResultsText(w io.Writer, body []byte) error {
	var res api.ExperimentResults
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("the server's answer: %w", err)
	}
	ws := make([]experiment.Weight, len(res.Allocation))
	for i, a := range res.Allocation {
		ws[i] = experiment.Weight{Variant: a.Variant, Weight: a.Weight}
	}
	fmt.Fprintf(w, "project %s, environment %s: results from the events the server collected\n", res.Project, res.Env)
	if res.AllocationSource == "rules" {
		fmt.Fprintln(w, "allocation: from the environment's live rules")
	} else {
		fmt.Fprintf(w, "allocation: equal shares (%s)\n", res.AllocationNote)
	}
	for _, m := range res.Metrics {
		var r experiment.Result
		if err := json.Unmarshal(m.Result, &r); err != nil {
			return fmt.Errorf("the server's answer: %s: %w", m.Metric, err)
		}
		r.Allocation = ws
		fmt.Fprintln(w)
		if err := r.WriteText(w); err != nil {
			return err
		}
		if m.InexactUnits > 0 {
			fmt.Fprintf(w, "%d units have events both before and after their first exposure on its day; their day counts whole.\n", m.InexactUnits)
		}
	}
	return nil
}

// analyzeRun is one vexil experiment analyze: what its flags asked for.
type analyzeRun struct {
	opts                experiment.Options
	aggregate, control  string
	allocation          string
	exposures, events   stringList
	defsFile, rulesFile string
	window, format      string
	env                 string
	client              func() (*apiClient, error)
}

func runAnalyze(ctx context.Context, args []string, stdio Stdio) int {
	r, done, status := parseAnalyze(args, stdio.Err)
	if done {
		return status
	}
	res, err := r.run(ctx, stdio.In)
	if err != nil {
		fmt.Fprintln(stdio.Err, err)
		return exitBadInput
	}
	if r.format == "json" {
		err = res.WriteJSON(stdio.Out)
	} else {
		err = res.WriteText(stdio.Out)
	}
	if err != nil {
		fmt.Fprintln(stdio.Err, err)
		return exitBadInput
	}
	return exitOK
}

func parseAnalyze(args []string, stderr io.Writer) (r analyzeRun, done bool, status int) {
	fs := newFlagSet("experiment analyze", stderr)
	fs.StringVar(&r.opts.Flag, "flag", "", "the experiment flag (required)")
	fs.StringVar(&r.opts.Metric, "metric", "", "the metric event name (default: the flag's primary: metric in --flags)")
	fs.StringVar(&r.aggregate, "aggregate", "", "a unit's value: sum, count or any (default: the metric's type in --flags, else sum)")
	fs.StringVar(&r.control, "control", "", "the control variant (default: the flag's control: or default in --flags)")
	fs.StringVar(&r.allocation, "allocation", "", "the intended split, e.g. classic=50,guided=50 (default: the --rules split ranges, else equal)")
	fs.Var(&r.exposures, "exposures", "a file of exposure lines, .gz read compressed, - for standard input (repeatable)")
	fs.Var(&r.events, "events", "a file of metric event lines, as --exposures (repeatable)")
	fs.StringVar(&r.defsFile, "flags", "", "flags.yaml: the flag's variants, control, metrics and metric types")
	fs.StringVar(&r.rulesFile, "rules", "", "a rules document whose split ranges are the intended allocation")
	fs.StringVar(&r.env, "env", "", "take the split ranges from this environment's rules on --server instead")
	r.client = clientFlags(fs)
	fs.StringVar(&r.window, "covariate-window", "", "CUPED: adjust by the metric in this window before each unit's start, e.g. 14d")
	fs.BoolVar(&r.opts.Sequential, "sequential", false, "always-valid p-values and intervals, safe to check every day")
	fs.Float64Var(&r.opts.Tuning, "sequential-tuning", experiment.DefaultTuning, "units (both arms) at which the sequential interval is narrowest")
	fs.StringVar(&r.format, "format", "text", "output format: text or json")
	if done, status := parseFlags(fs, args); done {
		return r, true, status
	}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if r.opts.Flag == "" {
		bad("--flag is required")
	}
	if len(r.exposures) == 0 {
		bad("--exposures is required")
	}
	if len(r.events) == 0 {
		bad("--events is required")
	}
	if r.format != "text" && r.format != "json" {
		bad("--format must be text or json, not %q", r.format)
	}
	if r.aggregate != "" {
		a, ok := experiment.ParseAggregate(r.aggregate)
		if !ok {
			bad("--aggregate must be sum, count or any, not %q", r.aggregate)
		}
		r.opts.Aggregate = a
	}
	if r.allocation != "" {
		ws, err := experiment.ParseAllocation(r.allocation)
		if err != nil {
			bad("--allocation: %v", err)
		}
		r.opts.Allocation = ws
	}
	if r.window != "" {
		w, err := experiment.ParseWindow(r.window)
		if err != nil {
			bad("--covariate-window: %v", err)
		}
		r.opts.CovariateWindow = w
	}
	if r.rulesFile != "" && r.env != "" {
		bad("--rules and --env both give the rules: give one")
	}
	if !(r.opts.Tuning >= 1) {
		bad("--sequential-tuning must be at least 1")
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "vexil experiment analyze: "+p)
		}
		return r, true, exitBadInput
	}
	r.opts.Control = r.control
	return r, false, exitOK
}

func (r *analyzeRun) run(ctx context.Context, stdin io.Reader) (*experiment.Result, error) {
	o := &r.opts
	var defs *experiment.Definitions
	if r.defsFile != "" {
		data, err := os.ReadFile(r.defsFile)
		if err != nil {
			return nil, err
		}
		parsed, diags := vexilrt.ParseDefinitions(r.defsFile, data)
		if err := diags.Err(); err != nil {
			return nil, err
		}
		if defs, err = experiment.FromDefinitions(parsed, o.Flag); err != nil {
			return nil, err
		}
		o.Variants = defs.Flag.Variants
		if o.Metric == "" {
			o.Metric = defs.Flag.Primary
		}
		if o.Control == "" {
			o.Control = defs.Flag.Control
		}
		if t, ok := defs.Metrics[o.Metric]; ok && o.Aggregate == "" {
			o.Aggregate = t
		}
	}
	switch {
	case o.Metric == "":
		return nil, errors.New("vexil experiment analyze: --metric is required (or a primary: metric for the flag in --flags)")
	case o.Control == "":
		return nil, errors.New("vexil experiment analyze: --control is required without --flags")
	}
	if (r.rulesFile != "" || r.env != "") && o.Allocation == nil {
		name, data, err := r.rules(ctx)
		if err != nil {
			return nil, err
		}
		var def, key string
		if defs != nil {
			def, key = defs.Flag.Default, defs.KeyAttr
		}
		if o.Allocation, err = experiment.RulesAllocation(name, data, o.Flag, def, key); err != nil {
			return nil, err
		}
	}
	c := experiment.NewCollector(*o)
	for _, f := range r.exposures {
		if err := readInput(ctx, stdin, f, c.ReadExposures); err != nil {
			return nil, err
		}
	}
	for _, f := range r.events {
		if err := readInput(ctx, stdin, f, c.ReadEvents); err != nil {
			return nil, err
		}
	}
	return c.Result()
}

// rules reads the rules document of --rules, or of --env on --server.
func (r *analyzeRun) rules(ctx context.Context) (name string, data []byte, err error) {
	if r.rulesFile != "" {
		data, err = os.ReadFile(r.rulesFile)
		return r.rulesFile, data, err
	}
	c, err := r.client()
	if err != nil {
		return "", nil, err
	}
	data, _, err = c.do(ctx, "GET", c.envPath(r.env, "/rules"), nil, "Accept", "application/yaml")
	if err != nil {
		return "", nil, fmt.Errorf("the rules of %s on %s: %v", r.env, c.Server, err)
	}
	return r.env + ".rules.yaml", data, nil
}

// readInput opens a file (standard input for "-", decompressing .gz) and
// hands it to read.
func readInput(ctx context.Context, stdin io.Reader, name string, read func(experiment.Input) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rd := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		rd = f
	}
	if strings.HasSuffix(name, ".gz") {
		z, err := gzip.NewReader(rd)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		defer z.Close()
		rd = z
	}
	if err := read(experiment.Input{Name: name, R: rd}); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}
