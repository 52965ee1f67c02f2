package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

func runKill(ctx context.Context, args []string, stdio Stdio) int {
	return killOrRestore(ctx, "kill", args, stdio)
}

func runUnkill(ctx context.Context, args []string, stdio Stdio) int {
	return killOrRestore(ctx, "unkill", args, stdio)
}

// killOrRestore is `vexil kill FLAG --env E --reason R` (force the flag to
// its safe value, else its default, for everyone, through any lock) and
// `vexil unkill FLAG --env E` (let the rules decide again).
func killOrRestore(ctx context.Context, cmd string, args []string, stdio Stdio) int {
	fs := newFlagSet(cmd, stdio.Err)
	client := clientFlags(fs)
	env := fs.String("env", "dev", "environment")
	reason := fs.String("reason", "", "why (required to kill; recorded in the history and the audit log)")
	flagName, rest := positional(args)
	if done, code := parseFlags(fs, rest); done {
		return code
	}
	if flagName == "" {
		fmt.Fprintf(stdio.Err, "usage: vexil %s FLAG --env ENV%s\n", cmd, map[bool]string{true: " --reason WHY", false: " [--reason WHY]"}[cmd == "kill"])
		return exitBadInput
	}
	if cmd == "kill" && strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(stdio.Err, "vexil kill: --reason is required: say why, for whoever reads the history")
		return exitBadInput
	}
	c, err := client()
	if err != nil {
		return fail(stdio.Err, cmd, "", err)
	}
	forced, err := killValue(ctx, c, flagName)
	if err != nil {
		return fail(stdio.Err, cmd, "", err)
	}
	method := "POST"
	if cmd == "unkill" {
		method = "DELETE"
	}
	body, _ := json.Marshal(api.KillRequest{Reason: *reason})
	b, _, err := c.do(ctx, method, c.envPath(*env, "/flags/"+url.PathEscape(flagName)+"/kill"), body)
	if err != nil {
		return fail(stdio.Err, cmd, "", err)
	}
	if requested(b, *env, stdio) {
		return exitOK
	}
	var out api.VersionResult
	json.Unmarshal(b, &out)
	if cmd == "kill" {
		fmt.Fprintf(stdio.Out, "killed %s in %s (version %d): everyone gets %s until vexil unkill\n", flagName, *env, out.Version, forced)
	} else {
		fmt.Fprintf(stdio.Out, "restored %s in %s (version %d): the rules decide again\n", flagName, *env, out.Version)
	}
	return exitOK
}

// positional takes a leading argument that is not a flag, so that both
// `vexil kill FLAG --env E` and `vexil kill --env E FLAG` work.
func positional(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") && (n < 2 || !strings.HasPrefix(args[n-2], "-") || !takesValue(args[n-2])) {
		return args[n-1], args[:n-1]
	}
	return "", args
}

// takesValue reports a flag whose value is the next argument.
func takesValue(arg string) bool {
	name := strings.TrimLeft(arg, "-")
	return !strings.Contains(name, "=") && name != "h" && name != "help"
}

// killValue is what a kill of flagName serves: its safe value, else its
// default (an alias's are its flag's), as the server's definitions say.
func killValue(ctx context.Context, c *apiClient, flagName string) (string, error) {
	if c.project != api.DefaultProject {
		// Only project default's definitions are served parsed.
		src, _, err := c.Definitions(ctx, c.project)
		if err != nil {
			return "", err
		}
		defs, diags := vexilrt.ParseDefinitions(c.project, []byte(src))
		if diags.HasErrors() {
			return "", fmt.Errorf("reading the definitions: %v", diags.Err())
		}
		f, ok := defs.Flag(flagName)
		if ok && f.IsAlias() {
			f, ok = defs.Flag(f.Alias)
		}
		if !ok {
			return "", fmt.Errorf("the server has no flag %q in project %s", flagName, c.project)
		}
		j, _ := json.Marshal(f.SafeValue().Any())
		return string(j), nil
	}
	b, _, err := c.do(ctx, "GET", "/api/v1/definitions", nil)
	if err != nil {
		return "", err
	}
	var defs api.Definitions
	if err := json.Unmarshal(b, &defs); err != nil {
		return "", fmt.Errorf("reading the definitions: %w", err)
	}
	for range 2 { // an alias, then its flag
		for _, f := range defs.Flags {
			if f.Name != flagName {
				continue
			}
			if f.Alias != "" {
				flagName = f.Alias
				break
			}
			v := f.Safe
			if v == nil {
				v = f.Default
			}
			j, _ := json.Marshal(v)
			return string(j), nil
		}
	}
	return "", fmt.Errorf("the server has no flag %q", flagName)
}
