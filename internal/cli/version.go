package cli

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

func runVersion(_ context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("version", stdio.Err)
	if done, code := parseFlags(fs, args); done {
		return code
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stdio.Out, "vexil (no build information in this binary)")
		return exitOK
	}
	fmt.Fprintln(stdio.Out, versionLine(bi))
	return exitOK
}

// versionLine says which vexil this is: the module version (a tag, a
// pseudo-version, or "(devel)" for a build from a checkout) and, when the
// go command stamped it, the VCS revision it was built from.
func versionLine(bi *debug.BuildInfo) string {
	mod := bi.Main
	if mod.Path != "github.com/vexilhq/vexil" {
		// Linked into another program (go tool vexil builds it as a dependency).
		for _, d := range bi.Deps {
			if d.Path == "github.com/vexilhq/vexil" {
				mod = *d
				if d.Replace != nil {
					mod.Version += " => " + d.Replace.Path
				}
			}
		}
	}
	version := mod.Version
	if version == "" {
		version = "(unknown)"
	}
	var s []string
	s = append(s, bi.GoVersion)
	set := map[string]string{}
	for _, kv := range bi.Settings {
		set[kv.Key] = kv.Value
	}
	if rev := set["vcs.revision"]; rev != "" {
		r := "revision " + rev
		if t := set["vcs.time"]; t != "" {
			r += " " + t
		}
		if set["vcs.modified"] == "true" {
			r += " with local changes"
		}
		s = append(s, r)
	}
	return fmt.Sprintf("vexil %s (%s)", version, strings.Join(s, ", "))
}
