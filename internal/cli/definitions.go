package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/linediff"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// The definitions commands publish a project's flags.yaml to a server (its
// CI does, on every merge) and read back its versions.

func runDefinitions(ctx context.Context, args []string, stdio Stdio) int {
	return subcommand(ctx, "definitions", args, stdio, map[string]func(context.Context, []string, Stdio) int{
		"push": definitionsPush, "get": definitionsGet, "history": definitionsHistory, "diff": definitionsDiff,
	}, []string{"push", "get", "history", "diff"})
}

// definitionsPush exits 0 when the server has the file (pushed now or
// already), 1 when it refused it (each use that live rules make of what it
// removes is listed), 2 for bad input or no answer.
func definitionsPush(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("definitions push", stdio.Err)
	client := clientFlags(fs)
	file := fs.String("f", "flags.yaml", "the flags.yaml to publish")
	msg := fs.String("m", "", "a message for the new version (e.g. the commit)")
	if done, code := parseFlags(fs, args); done {
		return code
	}
	src, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintf(stdio.Err, "vexil definitions push: %v\n", err)
		return exitBadInput
	}
	// Checked here first, so a broken file says where without a round trip.
	if _, diags := vexilrt.ParseDefinitions(*file, src); diags.HasErrors() {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stdio.Err, d)
		}
		return exitBadInput
	}
	c, err := client()
	if err != nil {
		return fail(stdio.Err, "definitions push", *file, err)
	}
	_, version, err := c.Definitions(ctx, c.project)
	if err != nil {
		return fail(stdio.Err, "definitions push", *file, err)
	}
	res, err := c.PushDefinitions(ctx, c.project, string(src), version, *msg)
	var ae *api.Error
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		fmt.Fprintf(stdio.Err, "vexil definitions push: %s: %s\n", c.project, ae.Message)
		for _, raw := range ae.Details {
			fmt.Fprintf(stdio.Err, "  %s\n", useLine(raw))
		}
		return exitFindings
	}
	if err != nil {
		return fail(stdio.Err, "definitions push", *file, err)
	}
	for _, w := range res.Warnings {
		if w.Message != "" {
			fmt.Fprintf(stdio.Err, "warning: %s\n", w.Message)
		}
	}
	if res.Unchanged {
		fmt.Fprintf(stdio.Err, "%s is already at version %d with this text\n", c.project, res.Version)
	} else {
		fmt.Fprintf(stdio.Err, "pushed %s version %d\n", c.project, res.Version)
	}
	return exitOK
}

func definitionsGet(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("definitions get", stdio.Err)
	client := clientFlags(fs)
	version := fs.Int64("version", 0, "a version (default the current one)")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	text, n := "", *version
	var err error
	if n > 0 {
		text, err = c.DefinitionsVersion(ctx, c.project, n)
	} else {
		text, n, err = c.Definitions(ctx, c.project)
	}
	if err != nil {
		return fail(stdio.Err, "definitions get", "", err)
	}
	fmt.Fprint(stdio.Out, text)
	fmt.Fprintf(stdio.Err, "%s version %d\n", c.project, n)
	return exitOK
}

func definitionsHistory(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("definitions history", stdio.Err)
	client := clientFlags(fs)
	limit := fs.Int("limit", 20, "how many versions, newest first")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	h, err := c.DefinitionsHistory(ctx, c.project, *limit)
	if err != nil {
		return fail(stdio.Err, "definitions history", "", err)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCREATED\tAUTHOR\tMESSAGE")
	for _, v := range h.Versions {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", v.Version, v.CreatedAt.Local().Format(time.DateTime), v.Author, v.Message)
	}
	tw.Flush()
	return exitOK
}

func definitionsDiff(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("definitions diff", stdio.Err)
	client := clientFlags(fs)
	from := fs.Int64("from", -1, "the older version (default the one before --to)")
	to := fs.Int64("to", 0, "the newer version (default the current one)")
	file := fs.String("f", "", "compare the current version with this file instead (what a push would change)")
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	var a, b, nameA, nameB string
	var err error
	if *file != "" {
		src, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintf(stdio.Err, "vexil definitions diff: %v\n", err)
			return exitBadInput
		}
		cur, n, err := c.Definitions(ctx, c.project)
		if err != nil {
			return fail(stdio.Err, "definitions diff", "", err)
		}
		a, b, nameA, nameB = cur, string(src), fmt.Sprintf("%s@v%d", c.project, n), *file
	} else {
		if *to <= 0 {
			if _, *to, err = c.Definitions(ctx, c.project); err != nil {
				return fail(stdio.Err, "definitions diff", "", err)
			}
		}
		if *from < 0 {
			*from = max(*to-1, 0)
		}
		if a, err = c.DefinitionsVersion(ctx, c.project, *from); err == nil {
			b, err = c.DefinitionsVersion(ctx, c.project, *to)
		}
		if err != nil {
			return fail(stdio.Err, "definitions diff", "", err)
		}
		nameA, nameB = fmt.Sprintf("%s@v%d", c.project, *from), fmt.Sprintf("%s@v%d", c.project, *to)
	}
	fmt.Fprint(stdio.Out, linediff.Unified(nameA, nameB, a, b))
	return exitOK
}

func runProjects(ctx context.Context, args []string, stdio Stdio) int {
	return subcommand(ctx, "projects", args, stdio, map[string]func(context.Context, []string, Stdio) int{
		"list": projectsList,
	}, []string{"list"})
}

func projectsList(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("projects list", stdio.Err)
	client := serverFlags(fs, new(api.DefaultProject))
	c, code, ok := connect(fs, args, client, stdio.Err)
	if !ok {
		return code
	}
	ps, err := c.Projects(ctx)
	if err != nil {
		return fail(stdio.Err, "projects list", "", err)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tVERSION\tPUSHED\tBY\tMESSAGE")
	for _, p := range ps.Projects {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", p.Name, p.Version, p.CreatedAt.Local().Format(time.DateTime), p.Author, p.Message)
	}
	tw.Flush()
	return exitOK
}

// useLine prints one use a refused push would break as env:line:col: path:
// message, or the detail as sent when it is something else.
func useLine(raw json.RawMessage) string {
	var u api.Use
	if json.Unmarshal(raw, &u) != nil || u.Env == "" {
		return string(raw)
	}
	return u.String()
}
