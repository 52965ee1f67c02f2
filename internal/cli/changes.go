package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

// runChanges is `vexil changes`: the change requests of an environment
// that requires approval (docs/api.md, Approvals).
func runChanges(ctx context.Context, args []string, stdio Stdio) int {
	return subcommand(ctx, "changes", args, stdio, map[string]func(context.Context, []string, Stdio) int{
		"list": changesList, "show": changesShow,
		"approve": func(ctx context.Context, args []string, stdio Stdio) int {
			return changesReview(ctx, "approve", args, stdio)
		},
		"reject": func(ctx context.Context, args []string, stdio Stdio) int {
			return changesReview(ctx, "reject", args, stdio)
		},
		"withdraw": func(ctx context.Context, args []string, stdio Stdio) int {
			return changesReview(ctx, "withdraw", args, stdio)
		},
		"apply": func(ctx context.Context, args []string, stdio Stdio) int {
			return changesReview(ctx, "apply", args, stdio)
		},
	}, []string{"list", "show", "approve", "reject", "withdraw", "apply"})
}

func changesList(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("changes list", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	state := fs.String("state", "open", "open, approved, applied, rejected, withdrawn, or all")
	limit := fs.Int("limit", 50, "how many, newest first")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	if *state == "all" {
		*state = ""
	}
	out, err := c.Changes(ctx, c.project, *env, *state, *limit)
	if err != nil {
		return fail(stdio.Err, "changes list", "", err)
	}
	if *asJSON {
		return printJSON(stdio, out)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tACTION\tBASE\tAUTHOR\tAPPROVALS\tFLAGS\tCREATED\tMESSAGE")
	for _, ch := range out.Changes {
		flags := strings.Join(ch.Flags, ",")
		if flags == "" {
			flags = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d/%d\t%s\t%s\t%s\n", ch.ID, changeState(&ch), ch.Action, ch.Base, ch.Author, ch.Approvals, ch.MinApprovals,
			flags, ch.Created.Format(time.RFC3339), ch.Message)
	}
	tw.Flush()
	return exitOK
}

// changeState is a change's state, marked when it conflicts.
func changeState(ch *api.ChangeRequest) string {
	if ch.Conflict != "" {
		return ch.State + " (conflict)"
	}
	return ch.State
}

func printJSON(stdio Stdio, v any) int {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintf(stdio.Out, "%s\n", b)
	return exitOK
}

// changeID reads a change's ID from the command line.
func changeID(cmd string, args []string, stderr io.Writer) (int64, []string, bool) {
	arg, rest := positional(args)
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		if arg != "-h" && arg != "--help" && !containsHelp(rest) {
			fmt.Fprintf(stderr, "usage: vexil changes %s ID --env ENV [flags]\n", cmd)
			return 0, rest, false
		}
	}
	return id, rest, true
}

func containsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

func changesShow(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("changes show", stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	targetsFile := fs.String("targets", "", "sample targets whose flag values the change would change: a JSON array of attribute objects or one object per line")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	id, rest, ok := changeID("show", args, stdio.Err)
	if !ok {
		return exitBadInput
	}
	c, code, ok := connect(fs, rest, client, stdio.Err)
	if !ok {
		return code
	}
	ts, code, ok := readTargets("changes show", *targetsFile, stdio.Err)
	if !ok {
		return code
	}
	var body []byte
	if ts != nil {
		body, _ = json.Marshal(ts)
	}
	ch, err := c.Change(ctx, c.project, *env, id, body)
	if err != nil {
		return fail(stdio.Err, "changes show", "", err)
	}
	if *asJSON {
		return printJSON(stdio, ch)
	}
	w := stdio.Out
	fmt.Fprintf(w, "change %d in %s: %s, %s by %s against version %d\n", ch.ID, *env, ch.State, ch.Action, ch.Author, ch.Base)
	if ch.Message != "" {
		fmt.Fprintf(w, "message: %s\n", ch.Message)
	}
	fmt.Fprintf(w, "approvals: %d of %d", ch.Approvals, ch.MinApprovals)
	if len(ch.Approvers) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(ch.Approvers, ", "))
	}
	fmt.Fprintln(w)
	if ch.AppliedVersion > 0 {
		fmt.Fprintf(w, "applied as version %d\n", ch.AppliedVersion)
	}
	if ch.BreakGlass != "" {
		fmt.Fprintf(w, "applied without approvals (break glass): %s\n", ch.BreakGlass)
	}
	if ch.Rebased {
		fmt.Fprintf(w, "%s is at version %d now: the change would be merged onto it\n", *env, ch.Current)
	}
	if ch.Conflict != "" {
		fmt.Fprintf(w, "CONFLICT: %s\n", ch.Conflict)
	}
	for _, rv := range ch.Reviews {
		fmt.Fprintf(w, "  %s %s %s", rv.At.Format(time.RFC3339), rv.Reviewer, rv.Verdict)
		if rv.Comment != "" {
			fmt.Fprintf(w, ": %s", rv.Comment)
		}
		fmt.Fprintln(w)
	}
	if ch.Diff != nil {
		for _, d := range ch.Diff.Changes {
			fmt.Fprintf(w, "# %s %s %s\n", d.Kind, d.Name, d.Change)
		}
		io.WriteString(w, ch.Diff.Text)
	}
	if len(ts) > 0 {
		fmt.Fprintf(w, "impact on %d targets: %s\n", len(ts), plural(len(ch.Impact), "value")+" would change")
		printImpact(w, ts, ch.Impact)
	}
	return exitOK
}

// changesReview is approve, reject, withdraw and (an admin's break glass)
// apply.
func changesReview(ctx context.Context, verdict string, args []string, stdio Stdio) int {
	fs := newFlagSet("changes "+verdict, stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	comment := fs.String("m", "", "a comment recorded with the review")
	var reason *string
	if verdict == "apply" {
		reason = fs.String("reason", "", "why the change cannot wait for approvals (required; audited as break glass)")
	}
	id, rest, ok := changeID(verdict, args, stdio.Err)
	if !ok {
		return exitBadInput
	}
	if done, code := parseFlags(fs, rest); done {
		return code
	}
	req := api.ReviewRequest{Comment: *comment}
	if reason != nil {
		if strings.TrimSpace(*reason) == "" {
			fmt.Fprintln(stdio.Err, "vexil changes apply: --reason is required: applying without approvals is break glass")
			return exitBadInput
		}
		req = api.ReviewRequest{Reason: *reason}
	}
	c, err := client()
	if err != nil {
		return fail(stdio.Err, "changes "+verdict, "", err)
	}
	ch, err := c.ReviewChange(ctx, c.project, *env, id, verdict, req)
	if err != nil {
		return fail(stdio.Err, "changes "+verdict, "", err)
	}
	switch {
	case ch.State == "applied":
		fmt.Fprintf(stdio.Out, "change %d applied: %s version %d\n", ch.ID, *env, ch.AppliedVersion)
	case ch.State == "approved":
		fmt.Fprintf(stdio.Out, "change %d approved: it applies when %s's lock is lifted\n", ch.ID, *env)
	case ch.Conflict != "":
		fmt.Fprintf(stdio.Out, "change %d is %s, not applied: %s\n", ch.ID, ch.State, ch.Conflict)
	case ch.State == "open":
		fmt.Fprintf(stdio.Out, "change %d: %d of %d approvals\n", ch.ID, ch.Approvals, ch.MinApprovals)
	default:
		fmt.Fprintf(stdio.Out, "change %d %s\n", ch.ID, ch.State)
	}
	return exitOK
}
