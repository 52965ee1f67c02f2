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

func runCheck(ctx context.Context, args []string, stdio Stdio) int {
	fset := newFlagSet("check", stdio.Err)
	defsFile := fset.String("f", "flags.yaml", "the flag definitions")
	rulesFile := fset.String("rules", "", "check this rules document against the definitions")
	server := fset.String("server", cmp.Or(os.Getenv("VEXIL_SERVER"), "http://127.0.0.1:8080"), "the vexil server whose --env rules to check (or VEXIL_SERVER)")
	env := fset.String("env", "", "check this environment's rules on --server, and its stuck rollouts")
	// Read after parsing, so that -h never prints the secret.
	token := fset.String("token", "", "the server's API token (or VEXIL_TOKEN)")
	var code stringList
	fset.Var(&code, "code", "check the Go packages matching this pattern, e.g. ./... (repeatable)")
	format := fset.String("format", "text", "output format: text, json or github")
	todayFlag := fset.String("today", "", "the date expiry is checked against, YYYY-MM-DD (default today, UTC)")
	failOn := fset.String("fail-on", "error", "exit 1 when a finding is at least this severe: error, warning or info")
	usage := fset.Bool("usage", false, "list every accessor call, by flag, instead of the findings (needs --code)")
	if done, status := parseFlags(fset, args); done {
		return status
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stdio.Err, "vexil check: "+format+"\n", a...)
		return exitBadInput
	}
	threshold, ok := check.ParseSeverity(*failOn)
	switch {
	case !ok:
		return bad("--fail-on must be error, warning or info, not %q", *failOn)
	case *format != "text" && *format != "json" && *format != "github":
		return bad("--format must be text, json or github, not %q", *format)
	case *rulesFile != "" && *env != "":
		return bad("--rules and --env are two sources of rules: give one")
	case *env != "" && *server == "":
		return bad("--env needs --server (or VEXIL_SERVER)")
	case *usage && len(code) == 0:
		return bad("--usage lists accessor calls, so it needs --code")
	}
	today := time.Now().UTC()
	if *todayFlag != "" {
		t, err := time.Parse(time.DateOnly, *todayFlag)
		if err != nil {
			return bad("--today must be a date (YYYY-MM-DD), not %q", *todayFlag)
		}
		today = t
	}

	src, err := os.ReadFile(*defsFile)
	if err != nil {
		fmt.Fprintf(stdio.Err, "%s: %s\n", *defsFile, readError(err))
		return exitBadInput
	}
	defs, findings, err := check.LoadDefinitions(*defsFile, src)
	if err != nil {
		return checkInputError(stdio.Err, err)
	}
	findings = append(findings, check.Definitions(defs, today)...)

	var problems []error
	texts := map[string][]byte{} // documents that are not files, for vexil:ignore comments
	switch {
	case *rulesFile != "":
		data, err := os.ReadFile(*rulesFile)
		if err != nil {
			fmt.Fprintf(stdio.Err, "%s: %s\n", *rulesFile, readError(err))
			return exitBadInput
		}
		doc, err := check.LoadRules(*rulesFile, data)
		if err != nil {
			problems = append(problems, err)
			break
		}
		findings = append(findings, check.Rules(defs, doc)...)
	case *env != "":
		remote := &check.Remote{URL: *server, Env: *env, Token: cmp.Or(*token, os.Getenv("VEXIL_TOKEN"))}
		cur, err := remote.Rules(ctx)
		if err != nil {
			problems = append(problems, err)
			break
		}
		texts[cur.File] = cur.Text
		findings = append(findings, check.Rules(defs, cur.Doc)...)
		stuck, err := check.StuckRollouts(ctx, remote, defs, cur, today)
		if err != nil {
			problems = append(problems, err)
		}
		findings = append(findings, stuck...)
	}

	var uses []check.Use
	if len(code) > 0 {
		rep, err := check.Code(ctx, defs, src, check.CodeOptions{Patterns: code})
		if err != nil {
			problems = append(problems, err)
		} else {
			findings = append(findings, rep.Findings...)
			uses = rep.Uses
		}
	}
	if len(problems) > 0 {
		return checkInputError(stdio.Err, errors.Join(problems...))
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
	if *usage {
		check.SortUses(uses)
		writeUses(stdio.Out, *format, uses)
		return exitOK
	}
	check.Sort(findings)
	writeFindings(stdio.Out, *format, findings)
	if *format == "text" && len(findings) > 0 {
		fmt.Fprintln(stdio.Err, "vexil check: "+check.Summary(findings))
	}
	if worst, any := check.Worst(findings); any && worst >= threshold {
		return exitFindings
	}
	return exitOK
}

// checkInputError prints every problem of bad input, one a line.
func checkInputError(w io.Writer, err error) int {
	fmt.Fprintln(w, err)
	return exitBadInput
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
	switch format {
	case "json":
		writeJSON(w, fs)
	case "github":
		for _, f := range fs {
			level := map[check.Severity]string{check.Error: "error", check.Warning: "warning", check.Info: "notice"}[f.Severity]
			fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level,
				ghProperty(f.File), f.Line, f.Col, ghProperty(f.Rule), ghData(f.Message))
		}
	default:
		for _, f := range fs {
			fmt.Fprintln(w, f)
		}
	}
}

func writeUses(w io.Writer, format string, us []check.Use) {
	switch format {
	case "json":
		writeJSON(w, us)
	case "github":
		for _, u := range us {
			fmt.Fprintf(w, "::notice file=%s,line=%d,col=%d,title=%s::%s\n", ghProperty(u.File), u.Line, u.Col, ghProperty(u.Flag), ghData(u.Accessor))
		}
	default:
		for _, u := range us {
			fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", u.File, u.Line, u.Col, u.Flag, u.Accessor)
		}
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
