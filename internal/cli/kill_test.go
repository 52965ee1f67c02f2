package cli

import (
	"strings"
	"testing"
)

func TestKillAndUnkill(t *testing.T) {
	url, admin := adminServer(t)
	auth := []string{"--server", url, "--token", admin}
	cases := []struct {
		name string
		args []string
		code int
		out  string // in stdout, or stderr when the command fails
	}{
		{"no reason", []string{"kill", "new_report", "--env", "dev"}, exitBadInput, "--reason is required"},
		{"no flag", []string{"kill", "--env", "dev", "--reason", "x"}, exitBadInput, "usage: vexil kill FLAG"},
		{"unknown flag", append([]string{"kill", "nope", "--env", "dev", "--reason", "x"}, auth...), exitBadInput, `no flag "nope"`},
		{"kill names the forced value", append([]string{"kill", "new_report", "--env", "dev", "--reason", "incident 42"}, auth...), exitOK,
			"killed new_report in dev (version 1): everyone gets false until vexil unkill"},
		{"flag last", append([]string{"unkill", "--env", "dev"}, append(auth, "new_report")...), exitOK, "restored new_report in dev (version 2)"},
		{"unkill a live flag", append([]string{"unkill", "new_report", "--env", "dev"}, auth...), exitFindings, "is not killed"},
	}
	for _, c := range cases {
		code, out, errOut := vexil(t, "", c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.out) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", c.name, code, out, errOut, c.code, c.out)
		}
	}
	_, out, _ := vexil(t, "", append([]string{"rules", "history", "--env", "dev"}, auth...)...)
	if !strings.Contains(out, "kill") || !strings.Contains(out, "unkill") {
		t.Errorf("history after kill and unkill: %s", out)
	}
}
