package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/targets"
)

// The admin commands are thin clients of the server's HTTP API
// (docs/api.md). Exit 0 on success, 1 when the server refused the change
// (stale, invalid, locked, forbidden...), 2 for bad usage or no answer.

// apiClient talks to one server with one token, in one project.
type apiClient struct {
	*api.Client
	project string
}

// clientFlags registers --server, --token and --project (defaulting to
// VEXIL_SERVER, VEXIL_TOKEN and VEXIL_PROJECT) and returns a constructor to
// call after parsing.
func clientFlags(fs *flag.FlagSet) func() (*apiClient, error) {
	return serverFlags(fs, fs.String("project", envOr("VEXIL_PROJECT", api.DefaultProject), "the project (or VEXIL_PROJECT)"))
}

// serverFlags is clientFlags with the project given (the token commands
// use --project for a token's scope).
func serverFlags(fs *flag.FlagSet, project *string) func() (*apiClient, error) {
	server := fs.String("server", envOr("VEXIL_SERVER", "http://127.0.0.1:8080"), "server URL (or VEXIL_SERVER)")
	// The token's default is read after parsing so that -h never prints it.
	token := fs.String("token", "", "API token (default $VEXIL_TOKEN)")
	return func() (*apiClient, error) {
		if *token == "" {
			*token = os.Getenv("VEXIL_TOKEN")
		}
		if *token == "" {
			return nil, errors.New("no token: pass --token or set VEXIL_TOKEN")
		}
		u, err := url.Parse(*server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--server %q is not an http(s) URL", *server)
		}
		if !api.ValidName(*project) {
			return nil, fmt.Errorf("--project %q: %s", *project, api.NameRule)
		}
		return &apiClient{Client: &api.Client{Server: strings.TrimSuffix(*server, "/"), Token: *token, HTTP: &http.Client{Timeout: time.Minute}}, project: *project}, nil
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (c *apiClient) do(ctx context.Context, method, path string, body []byte, header ...string) ([]byte, http.Header, error) {
	return c.Do(ctx, method, path, body, header...)
}

// envPath is the admin path of the client's project's environment env.
func (c *apiClient) envPath(env, rest string) string { return api.EnvPath(c.project, env, rest) }

// fail reports err and returns the exit status: refused changes are 1,
// everything else (unreachable server, bad usage) 2. Located compile
// errors print one per line as file:line:col: path: message.
func fail(stderr io.Writer, cmd, file string, err error) int {
	var ae *api.Error
	if !errors.As(err, &ae) {
		fmt.Fprintf(stderr, "vexil %s: %v\n", cmd, err)
		return exitBadInput
	}
	fmt.Fprintf(stderr, "vexil %s: %v\n", cmd, ae)
	for _, raw := range ae.Details {
		var d api.Problem
		if json.Unmarshal(raw, &d) == nil && d.Message != "" {
			fmt.Fprintf(stderr, "%s:%d:%d: %s: %s\n", file, d.Line, d.Col, d.Path, d.Message)
		} else {
			fmt.Fprintf(stderr, "  %s\n", raw)
		}
	}
	if ae.Status >= 500 || ae.Status == http.StatusUnauthorized {
		return exitBadInput
	}
	return exitFindings
}

// subcommand dispatches "vexil NAME SUB ..." to one of subs.
func subcommand(ctx context.Context, name string, args []string, stdio Stdio, subs map[string]func(context.Context, []string, Stdio) int, order []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || subs[args[0]] == nil {
		fmt.Fprintf(stdio.Err, "usage: vexil %s {%s} [flags]\n", name, strings.Join(order, "|"))
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return exitOK
		}
		return exitBadInput
	}
	return subs[args[0]](ctx, args[1:], stdio)
}

func runRules(ctx context.Context, args []string, stdio Stdio) int {
	return subcommand(ctx, "rules", args, stdio, map[string]func(context.Context, []string, Stdio) int{
		"get": rulesGet, "put": rulesPut, "history": rulesHistory, "diff": rulesDiff, "rollback": rulesRollback,
	}, []string{"get", "put", "history", "diff", "rollback"})
}

func rulesGet(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("rules get", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	format := fs.String("format", "yaml", "yaml (the text as saved) or json")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	b, h, err := c.do(ctx, "GET", c.envPath(*env, "/rules"), nil, "Accept", "application/"+*format)
	if err != nil {
		return fail(stdio.Err, "rules get", "", err)
	}
	stdio.Out.Write(b)
	fmt.Fprintf(stdio.Err, "%s version %s\n", *env, strings.Trim(h.Get("ETag"), `"`))
	return exitOK
}

func rulesPut(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("rules put", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	file := fs.String("f", "", "the rules document to save (YAML or JSON; - for standard input)")
	ifMatch := fs.String("if-match", "", `the version the document was edited from (from "rules get"); "latest" saves over whatever is current`)
	msg := fs.String("m", "", "a message recorded with the version")
	breakGlass := fs.String("break-glass", "", "admins: save at once on an environment that requires approval, for this reason (audited as break glass)")
	if done, code := parseFlags(fs, args); done {
		return code
	}
	if *file == "" || *ifMatch == "" {
		fmt.Fprintln(stdio.Err, "vexil rules put: -f FILE and --if-match VERSION are required")
		return exitBadInput
	}
	c, err := client()
	if err != nil {
		return fail(stdio.Err, "rules put", "", err)
	}
	var doc []byte
	if *file == "-" {
		doc, err = io.ReadAll(stdio.In)
	} else {
		doc, err = os.ReadFile(*file)
	}
	if err != nil {
		return fail(stdio.Err, "rules put", "", err)
	}
	if *ifMatch == "latest" {
		_, h, err := c.do(ctx, "GET", c.envPath(*env, "/rules"), nil)
		if err != nil {
			return fail(stdio.Err, "rules put", "", err)
		}
		*ifMatch = strings.Trim(h.Get("ETag"), `"`)
	}
	ct := "application/yaml"
	if strings.HasSuffix(*file, ".json") {
		ct = "application/json"
	}
	b, _, err := c.do(ctx, "PUT", c.envPath(*env, "/rules"), doc, "Content-Type", ct, "If-Match", `"`+*ifMatch+`"`, "Vexil-Message", *msg, "Vexil-Break-Glass", *breakGlass)
	if err != nil {
		return fail(stdio.Err, "rules put", *file, err)
	}
	if requested(b, *env, stdio) {
		return exitOK
	}
	var out api.SaveResult
	json.Unmarshal(b, &out)
	for _, w := range out.Warnings {
		fmt.Fprintf(stdio.Err, "%s:%d:%d: %s: warning: %s\n", *file, w.Line, w.Col, w.Path, w.Message)
	}
	fmt.Fprintf(stdio.Out, "%s version %d\n", *env, out.Version)
	return exitOK
}

// requested says whether a change's answer is a change request (202 on an
// environment that requires approval), and if so prints its ID, with a
// note that nothing changed yet.
func requested(answer []byte, env string, stdio Stdio) bool {
	var cr api.ChangeCreated
	if json.Unmarshal(answer, &cr) != nil || cr.Change == 0 {
		return false
	}
	fmt.Fprintf(stdio.Out, "change %d\n", cr.Change)
	fmt.Fprintf(stdio.Err, "%s requires approval: nothing changed yet; change %d is %s until approved (vexil changes show %d --env %s)\n", env, cr.Change, cr.State, cr.Change, env)
	return true
}

func rulesHistory(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("rules history", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	limit := fs.Int("limit", 20, "how many versions, newest first")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	b, _, err := c.do(ctx, "GET", c.envPath(*env, "/versions?limit="+strconv.Itoa(*limit)), nil)
	if err != nil {
		return fail(stdio.Err, "rules history", "", err)
	}
	if *asJSON {
		stdio.Out.Write(b)
		return exitOK
	}
	var out api.Versions
	if err := json.Unmarshal(b, &out); err != nil {
		return fail(stdio.Err, "rules history", "", err)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tACTION\tAUTHOR\tSAVED\tMESSAGE")
	for _, v := range out.Versions {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, v.Action, v.Author, v.Created.Format(time.RFC3339), v.Message)
	}
	tw.Flush()
	return exitOK
}

func rulesDiff(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("rules diff", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	from := fs.String("from", "", "older version (default: the one before --to)")
	to := fs.String("to", "", "newer version (default: the current one)")
	asJSON := fs.Bool("json", false, "print the server's JSON (which rules, filters and kills changed)")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	q := url.Values{}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	b, _, err := c.do(ctx, "GET", c.envPath(*env, "/diff?"+q.Encode()), nil)
	if err != nil {
		return fail(stdio.Err, "rules diff", "", err)
	}
	if *asJSON {
		stdio.Out.Write(b)
		return exitOK
	}
	var out api.Diff
	if err := json.Unmarshal(b, &out); err != nil {
		return fail(stdio.Err, "rules diff", "", err)
	}
	for _, ch := range out.Changes {
		fmt.Fprintf(stdio.Out, "# %s %s %s\n", ch.Kind, ch.Name, ch.Change)
	}
	io.WriteString(stdio.Out, out.Text)
	return exitOK
}

func rulesRollback(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("rules rollback", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	to := fs.Int64("to", -1, "the version to roll back to (saved as a new version)")
	msg := fs.String("m", "", "a message recorded with the version")
	dryRun := fs.Bool("dry-run", false, "save nothing; list which flag values would change for --targets")
	targetsFile := fs.String("targets", "", "with --dry-run: sample targets, a JSON array of attribute objects or one object per line")
	if done, code := parseFlags(fs, args); done {
		return code
	}
	if *to < 0 {
		fmt.Fprintln(stdio.Err, "vexil rules rollback: --to VERSION is required")
		return exitBadInput
	}
	c, err := client()
	if err != nil {
		return fail(stdio.Err, "rules rollback", "", err)
	}
	ts, code, ok := readTargets("rules rollback", *targetsFile, stdio.Err)
	if !ok {
		return code
	}
	body, _ := json.Marshal(api.RollbackRequest{To: to, Message: *msg, DryRun: *dryRun, Targets: ts})
	b, _, err := c.do(ctx, "POST", c.envPath(*env, "/rollback"), body)
	if err != nil {
		return fail(stdio.Err, "rules rollback", "", err)
	}
	if !*dryRun {
		if requested(b, *env, stdio) {
			return exitOK
		}
		var out api.VersionResult
		json.Unmarshal(b, &out)
		fmt.Fprintf(stdio.Out, "%s version %d (rolled back to %d)\n", *env, out.Version, *to)
		return exitOK
	}
	var out api.RollbackImpact
	json.Unmarshal(b, &out)
	if len(ts) == 0 {
		// "would change 0 values" would read as "safe"; nothing was evaluated.
		fmt.Fprintf(stdio.Out, "rolling %s back from version %d to %d: NO TARGETS WERE EVALUATED, so nothing is known about its impact.\n"+
			"Pass --targets FILE (a JSON array of attribute objects, or one object per line) to see which values change.\n", *env, out.From, out.To)
		return exitOK
	}
	changed := map[int]bool{}
	for _, im := range out.Impact {
		changed[im.Target] = true
	}
	fmt.Fprintf(stdio.Out, "rolling %s back from version %d to %d would change %s for %d of %d targets\n", *env, out.From, out.To, plural(len(out.Impact), "value"), len(changed), len(ts))
	printImpact(stdio.Out, ts, out.Impact)
	return exitOK
}

// readTargets reads a --targets file (none: nil); when ok is false the
// command is over with code.
func readTargets(cmd, file string, stderr io.Writer) (ts []json.RawMessage, code int, ok bool) {
	if file == "" {
		return nil, 0, true
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fail(stderr, cmd, "", err), false
	}
	if ts, err = targets.Parse(file, data); err != nil {
		fmt.Fprintln(stderr, err)
		return nil, exitBadInput, false
	}
	return ts, 0, true
}

// printImpact tabulates the flag values a rollback or a change request
// would change for sample targets ts.
func printImpact(w io.Writer, ts []json.RawMessage, impact []api.Impact) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(impact) > 0 {
		fmt.Fprintln(tw, "TARGET\tFLAG\tBEFORE\tAFTER\tBECAUSE")
	}
	for _, im := range impact {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\n", targetLabel(ts, im.Target), im.Flag, im.Before, im.After, im.Because)
	}
	tw.Flush()
}

func runLock(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("lock", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	dur := fs.String("for", "", `lock saves for this long, e.g. "30m" (without it and --release: show the lock)`)
	reason := fs.String("reason", "", "why (shown to everyone whose save is refused)")
	release := fs.Bool("release", false, "lift the lock")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	var b []byte
	var err error
	switch {
	case *release:
		if _, _, err := c.do(ctx, "DELETE", c.envPath(*env, "/lock"), nil); err != nil {
			return fail(stdio.Err, "lock", "", err)
		}
		fmt.Fprintf(stdio.Out, "%s unlocked\n", *env)
		return exitOK
	case *dur != "":
		body, _ := json.Marshal(api.LockRequest{For: *dur, Reason: *reason})
		b, _, err = c.do(ctx, "POST", c.envPath(*env, "/lock"), body)
	default:
		b, _, err = c.do(ctx, "GET", c.envPath(*env, "/lock"), nil)
	}
	if err != nil {
		return fail(stdio.Err, "lock", "", err)
	}
	var l api.LockState
	json.Unmarshal(b, &l)
	if !l.Locked || l.Until == nil {
		fmt.Fprintf(stdio.Out, "%s is not locked\n", *env)
	} else {
		fmt.Fprintf(stdio.Out, "%s locked by %s until %s: %s\n", *env, l.LockedBy, l.Until.Format(time.RFC3339), l.Reason)
	}
	return exitOK
}

func runToken(ctx context.Context, args []string, stdio Stdio) int {
	return subcommand(ctx, "token", args, stdio, map[string]func(context.Context, []string, Stdio) int{
		"create": tokenCreate, "list": tokenList, "revoke": tokenRevoke,
	}, []string{"create", "list", "revoke"})
}

func tokenCreate(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("token create", stdio.Err)
	client := serverFlags(fs, new(api.DefaultProject))
	name := fs.String("name", "", "who or what the token is for (recorded as the author of its changes)")
	role := fs.String("role", "", "admin, editor, viewer or sdk")
	var envs, projects stringList
	fs.Var(&envs, "env", "an environment the token may use (repeatable; none = all)")
	fs.Var(&projects, "project", "a project the token may use (repeatable; none = all)")
	if done, code := parseFlags(fs, args); done {
		return code
	}
	if *name == "" || *role == "" {
		fmt.Fprintln(stdio.Err, "vexil token create: --name and --role are required")
		return exitBadInput
	}
	c, err := client()
	if err != nil {
		return fail(stdio.Err, "token create", "", err)
	}
	body, _ := json.Marshal(api.TokenRequest{Name: *name, Role: *role, Environments: nonNilList(envs), Projects: nonNilList(projects)})
	b, _, err := c.do(ctx, "POST", "/api/v1/tokens", body)
	if err != nil {
		return fail(stdio.Err, "token create", "", err)
	}
	var out api.TokenInfo
	json.Unmarshal(b, &out)
	fmt.Fprintln(stdio.Out, out.Token)
	fmt.Fprintf(stdio.Err, "created %s (%s); the secret above is shown only this once\n", out.ID, *role)
	return exitOK
}

func nonNilList(s stringList) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func tokenList(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("token list", stdio.Err)
	client := serverFlags(fs, new(api.DefaultProject))
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	b, _, err := c.do(ctx, "GET", "/api/v1/tokens", nil)
	if err != nil {
		return fail(stdio.Err, "token list", "", err)
	}
	var out api.Tokens
	if err := json.Unmarshal(b, &out); err != nil {
		return fail(stdio.Err, "token list", "", err)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tENVIRONMENTS\tCREATED\tBY\tREVOKED")
	for _, t := range out.Tokens {
		envs, revoked := strings.Join(t.Environments, ","), "-"
		if envs == "" {
			envs = "*"
		}
		if t.Revoked != nil {
			revoked = t.Revoked.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, envs, t.Created.Format(time.RFC3339), t.CreatedBy, revoked)
	}
	tw.Flush()
	return exitOK
}

func tokenRevoke(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("token revoke", stdio.Err)
	client := serverFlags(fs, new(api.DefaultProject))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitBadInput
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stdio.Err, "usage: vexil token revoke [--server URL] [--token T] ID")
		return exitBadInput
	}
	c, err := client()
	if err != nil {
		return fail(stdio.Err, "token revoke", "", err)
	}
	if _, _, err := c.do(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(fs.Arg(0)), nil); err != nil {
		return fail(stdio.Err, "token revoke", "", err)
	}
	fmt.Fprintf(stdio.Out, "revoked %s\n", fs.Arg(0))
	return exitOK
}

// targetLabel names a dry run's target by its place in the file (1-based)
// and its attributes, since the server only knows its index.
func targetLabel(ts []json.RawMessage, i int) string {
	if i < 0 || i >= len(ts) {
		return strconv.Itoa(i + 1)
	}
	s := string(ts[i])
	if len(s) > 48 {
		s = s[:45] + "..."
	}
	return fmt.Sprintf("%d %s", i+1, s)
}

// plural says "1 value", "2 values".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// connect parses a command's flags and makes its API client; when ok is
// false the command is over (help, a bad flag or no client) with code.
func connect(fs *flag.FlagSet, args []string, client func() (*apiClient, error), stderr io.Writer) (c *apiClient, code int, ok bool) {
	if done, code := parseFlags(fs, args); done {
		return nil, code, false
	}
	c, err := client()
	if err != nil {
		return nil, fail(stderr, strings.TrimPrefix(fs.Name(), "vexil "), "", err), false
	}
	return c, 0, true
}
