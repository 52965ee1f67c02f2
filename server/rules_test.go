package server

import (
	"strconv"
	"testing"
)

func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{`"7"`, `W/"7"`, `7`, `"x"`, `""`, `"-1"`, ` "3" `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseIfMatch(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("%q parsed to %d", s, n)
		}
		if back, err := parseIfMatch(strconv.Quote(strconv.FormatInt(n, 10))); err != nil || back != n {
			t.Fatalf("round trip of %d: %d, %v", n, back, err)
		}
	})
}
