package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/check"
)

// checkRun is one vexil check: what its flags asked for.
type checkRun struct {
	defsFile, rulesFile string
	server, env, token  string
	project             string
	code, graphql       stringList
	format              string
	failOn              check.Severity
	today               time.Time
	usage               bool
}

func runCheck(ctx context.Context, args []string, stdio Stdio) int {
	r, done, status := parseCheck(args, stdio.Err)
	if done {
		return status
	}
	findings, uses, err := r.run(ctx)
	if err != nil {
		fmt.Fprintln(stdio.Err, err)
		return exitBadInput
	}
	if r.usage {
		writeUses(stdio.Out, r.format, uses)
		return exitOK
	}
	writeFindings(stdio.Out, r.format, findings)
	if r.format == "text" && len(findings) > 0 {
		fmt.Fprintln(stdio.Err, "vexil check: "+check.Summary(findings))
	}
	if worst, any := check.Worst(findings); any && worst >= r.failOn {
		return exitFindings
	}
	return exitOK
}

func parseCheck(args []string, stderr io.Writer) (r checkRun, done bool, status int) {
	fset := newFlagSet("check", stderr)
	fset.StringVar(&r.defsFile, "f", "flags.yaml", "the flag definitions")
	fset.StringVar(&r.rulesFile, "rules", "", "check this rules document against the definitions")
	fset.StringVar(&r.server, "server", cmp.Or(os.Getenv("VEXIL_SERVER"), "http://127.0.0.1:8080"), "the vexil server whose --env rules to check (or VEXIL_SERVER)")
	fset.StringVar(&r.env, "env", "", "check this environment's rules on --server, and its stuck rollouts")
	fset.StringVar(&r.project, "project", cmp.Or(os.Getenv("VEXIL_PROJECT"), "default"), "the project of --env on --server (or VEXIL_PROJECT)")
	// Read after parsing, so that -h never prints the secret.
	fset.StringVar(&r.token, "token", "", "the server's API token (or VEXIL_TOKEN)")
	fset.Var(&r.code, "code", "check the Go packages matching this pattern, e.g. ./... (repeatable)")
	fset.Var(&r.graphql, "graphql", "with --code: the front end's GraphQL documents, a glob such as 'web/src/**/*.graphql' (repeatable); client flags none selects are unused")
	fset.StringVar(&r.format, "format", "text", "output format: text, json or github")
	today := fset.String("today", "", "the date expiry is checked against, YYYY-MM-DD (default today, UTC)")
	failOn := fset.String("fail-on", "error", "exit 1 when a finding is at least this severe: error, warning or info")
	fset.BoolVar(&r.usage, "usage", false, "list every accessor call, by flag, instead of the findings (needs --code)")
	if done, status := parseFlags(fset, args); done {
		return r, true, status
	}
	bad := func(format string, a ...any) (checkRun, bool, int) {
		fmt.Fprintf(stderr, "vexil check: "+format+"\n", a...)
		return r, true, exitBadInput
	}
	var ok bool
	r.failOn, ok = check.ParseSeverity(*failOn)
	switch {
	case !ok:
		return bad("--fail-on must be error, warning or info, not %q", *failOn)
	case r.format != "text" && r.format != "json" && r.format != "github":
		return bad("--format must be text, json or github, not %q", r.format)
	case r.rulesFile != "" && r.env != "":
		return bad("--rules and --env are two sources of rules: give one")
	case r.env != "" && r.server == "":
		return bad("--env needs --server (or VEXIL_SERVER)")
	case r.usage && len(r.code) == 0:
		return bad("--usage lists accessor calls, so it needs --code")
	case len(r.graphql) > 0 && len(r.code) == 0:
		return bad("--graphql says which client flags the front end reads, so it needs --code")
	}
	r.token = cmp.Or(r.token, os.Getenv("VEXIL_TOKEN"))
	r.today = time.Now().UTC()
	if *today != "" {
		t, err := time.Parse(time.DateOnly, *today)
		if err != nil {
			return bad("--today must be a date (YYYY-MM-DD), not %q", *today)
		}
		r.today = t
	}
	return r, false, exitOK
}

// run runs the checks asked for. Bad input (the error) is every problem
// found in every input at once; findings are sorted and waived ones left
// out, and uses sorted, with file names relative to the working directory.
func (r *checkRun) run(ctx context.Context) ([]check.Finding, []check.Use, error) {
	src, err := os.ReadFile(r.defsFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s", r.defsFile, readError(err))
	}
	defs, findings, err := check.LoadDefinitions(r.defsFile, src)
	if err != nil {
		return nil, nil, err
	}
	findings = append(findings, check.Definitions(defs, r.today)...)

	var problems []error
	texts := map[string][]byte{} // documents that are not files, for vexil:ignore comments
	var readByRules map[string]bool
	switch {
	case r.rulesFile != "":
		data, err := os.ReadFile(r.rulesFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s", r.rulesFile, readError(err))
		}
		doc, err := check.LoadRules(r.rulesFile, data)
		if err != nil {
			problems = append(problems, err)
			break
		}
		findings = append(findings, check.Rules(defs, doc, r.today)...)
		readByRules = check.FlagsRead(doc)
	case r.env != "":
		remote := &check.Remote{URL: r.server, Project: r.project, Env: r.env, Token: r.token}
		cur, err := remote.Rules(ctx)
		if err != nil {
			problems = append(problems, err)
			break
		}
		texts[cur.File] = cur.Text
		findings = append(findings, check.Rules(defs, cur.Doc, r.today)...)
		readByRules = check.FlagsRead(cur.Doc)
		stuck, err := check.StuckRollouts(ctx, remote, defs, cur, r.today)
		if err != nil {
			problems = append(problems, err)
		}
		findings = append(findings, stuck...)
		idle, err := check.NotEvaluated(ctx, remote, defs, r.today)
		if err != nil {
			problems = append(problems, err)
		}
		findings = append(findings, idle...)
	}

	var uses []check.Use
	if len(r.code) > 0 {
		rep, err := check.Code(ctx, defs, check.CodeOptions{Patterns: r.code, ReadByRules: readByRules, GraphQL: r.graphql})
		if err != nil {
			problems = append(problems, err)
		} else {
			findings = append(findings, rep.Findings...)
			uses = rep.Uses
		}
	}
	if len(problems) > 0 {
		return nil, nil, errors.Join(problems...)
	}

	findings = check.Ignore(findings, func(file string) []byte {
		if text, ok := texts[file]; ok {
			return text
		}
		text, _ := os.ReadFile(file) // a file that cannot be read waives nothing
		return text
	})
	wd, _ := os.Getwd()
	for i := range findings {
		findings[i].File = displayPath(wd, findings[i].File)
	}
	for i := range uses {
		uses[i].File = displayPath(wd, uses[i].File)
	}
	check.Sort(findings)
	check.SortUses(uses)
	return findings, uses, nil
}

// displayPath shows a file relative to the working directory when it is
// inside it, as go vet does.
func displayPath(wd, file string) string {
	if wd == "" || !filepath.IsAbs(file) {
		return file
	}
	if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel
	}
	return file
}

func writeFindings(w io.Writer, format string, fs []check.Finding) {
	writeList(w, format, fs, func(f check.Finding) string {
		level := map[check.Severity]string{check.Error: "error", check.Warning: "warning", check.Info: "notice"}[f.Severity]
		return fmt.Sprintf("::%s file=%s,line=%d,col=%d,title=%s::%s", level,
			ghProperty(f.File), f.Line, f.Col, ghProperty(f.Rule), ghData(f.Message))
	}, check.Finding.String)
}

func writeUses(w io.Writer, format string, us []check.Use) {
	writeList(w, format, us, func(u check.Use) string {
		return fmt.Sprintf("::notice file=%s,line=%d,col=%d,title=%s::%s", ghProperty(u.File), u.Line, u.Col, ghProperty(u.Flag), ghData(u.Accessor))
	}, func(u check.Use) string {
		return fmt.Sprintf("%s:%d:%d: %s: %s", u.File, u.Line, u.Col, u.Flag, u.Accessor)
	})
}

// writeList writes items in --format: json, github (a workflow command a
// line, from github) or text (a line each, from text).
func writeList[T any](w io.Writer, format string, items []T, github, text func(T) string) {
	if format == "json" {
		writeJSON(w, items)
		return
	}
	line := text
	if format == "github" {
		line = github
	}
	for _, it := range items {
		fmt.Fprintln(w, line(it))
	}
}

// writeJSON writes a list, indented; [] when empty, never null.
func writeJSON[T any](w io.Writer, items []T) {
	if items == nil {
		items = []T{}
	}
	data, _ := json.MarshalIndent(items, "", "  ") // plain structs cannot fail to encode
	fmt.Fprintf(w, "%s\n", data)
}

// ghData and ghProperty escape a workflow command's message and its
// properties, as GitHub Actions' toolkit does.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
