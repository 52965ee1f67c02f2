// Package cli implements the vexil subcommands. Commands return an exit
// status; only main exits.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses shared by every subcommand.
const (
	exitOK       = 0
	exitFindings = 1 // the command ran; what it found is a failure (stale files, failed lines)
	exitBadInput = 2 // bad flags, unreadable or invalid input
)

// Stdio is where a command reads and writes.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io Stdio) int
}

func commands() []command {
	return []command{
		{"generate", "generate typed Go accessors and a GraphQL schema from flags.yaml", runGenerate},
		{"eval", "evaluate flags for a target against a rules document", runEval},
		{"serve", "serve rules, the admin API, SDK sync and OFREP", runServe},
		{"rules", "get, put, show the history of, diff or roll back an environment's rules on a server", runRules},
		{"lock", "lock an environment's rules against saves for a while, or lift the lock", runLock},
		{"kill", "force a flag to its safe value for everyone in an environment, through any lock", runKill},
		{"unkill", "lift a flag's kill switch: the rules decide again", runUnkill},
		{"changes", "list, show, approve, reject or withdraw change requests on an environment that requires approval", runChanges},
		{"token", "create, list or revoke API tokens on a server", runToken},
		{"definitions", "push a project's flags.yaml to a server (from CI), or get, list or diff its versions", runDefinitions},
		{"projects", "list the projects a server has", runProjects},
		{"check", "find expired, unused, broken and dead flags in definitions, rules and code", runCheck},
		{"experiment", "analyze: compare an experiment's variants on a metric, with significance and a sample ratio check; results: the same from a server's collected events", runExperiment},
		{"version", "print vexil's module version and the VCS revision it was built from", runVersion},
	}
}

// Main runs the vexil command line and returns its exit status.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdio.Out)
		if len(args) == 0 {
			return exitBadInput
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdio)
		}
	}
	fmt.Fprintf(stdio.Err, "vexil: unknown command %q\n", args[0])
	usage(stdio.Err)
	return exitBadInput
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vexil <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'vexil <command> -h' for a command's flags.")
}

// newFlagSet makes a flag set that reports errors to stderr and never exits.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vexil "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses, mapping -h to success and other errors to bad input.
func parseFlags(fs *flag.FlagSet, args []string) (done bool, code int) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return true, exitOK
	case err != nil:
		return true, exitBadInput
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return true, exitBadInput
	}
	return false, exitOK
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// flagGiven reports whether the command line set the named flag, even to "".
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
