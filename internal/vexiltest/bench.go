package vexiltest

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// BenchSet is the 1,000-element set literal of the engine benchmark:
// 4000, 4003, ..., 6997.
func BenchSet() string {
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint(4000 + i*3)
	}
	return "[" + strings.Join(ids, ", ") + "]"
}

// BenchRules are the engine benchmark's rules: the bool flag new_report
// behind 10 rules mixing equality, numeric comparison, `in` BenchSet and a
// named filter, lastFilter the last one's filter. The runtime's benchmarks
// and the generated package's time the same work with them.
func BenchRules(lastFilter string) string {
	set := BenchSet()
	rules := []string{
		`attr:school_id = 7 and attr:beta`,
		`attr:score > 90.5`,
		`attr:score < 0 and attr:school_id in ` + set,
		`filter:teachers and attr:school_id > 5000000`,
		`attr:country = 'US'`,
		`attr:role = 'parent' and attr:beta`,
		`attr:grades intersects [11, 12]`,
		`filter:anz and attr:school_id < 0`,
		`attr:user_id = 'nobody'`,
		lastFilter,
	}
	var b strings.Builder
	b.WriteString("filters:\n  teachers: \"attr:role = 'teacher'\"\n  anz: \"attr:country in ['AU', 'NZ']\"\nrules:\n")
	for i, f := range rules {
		fmt.Fprintf(&b, "  r%02d:\n    priority: %d\n    filter: %q\n    variants: {new_report: true}\n", i+1, 100-i, f)
	}
	return b.String()
}

// Attributes is the attributes section tests' definitions start from: the
// demo's attributes and one of every type.
const Attributes = `attributes:
  user_id:   {type: string, key: true}
  role:      {type: string, values: [teacher, student, parent]}
  school_id: {type: int}
  country:   {type: string}
  grades:    {type: int_set}
  tags:      {type: string_set}
  beta:      {type: bool}
  score:     {type: float}
`

// CPUTime is the CPU time this process has used (user and system): on a
// shared machine a benchmark's steadier figure than its wall time, which
// mostly measures the neighbours.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PagesDefinitions is the UI pages benchmark's definitions: 500 flags
// (flag_000 to flag_499; by their number modulo 3 a released bool flag, an
// experiment of variants a, b and c measuring purchase, and an ops flag of
// 10, 20 and 30), with owners, expiry dates and one sum metric.
func PagesDefinitions() string {
	var defs strings.Builder
	defs.WriteString("version: 1\npackage: flags\n" + Attributes + "metrics:\n  purchase: {type: sum}\nflags:\n")
	for i := range 500 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&defs, "  flag_%03d: {default: false, description: Flag number %d., owner: team-%d, expires: 2027-0%d-15, kind: release, client: true}\n", i, i, i%7, 1+i%9)
		case 1:
			fmt.Fprintf(&defs, "  flag_%03d: {variants: [a, b, c], default: a, owner: team-%d, kind: experiment, metrics: [purchase]}\n", i, i%7)
		default:
			fmt.Fprintf(&defs, "  flag_%03d: {variants: [10, 20, 30], default: 10, kind: ops}\n", i)
		}
	}
	return defs.String()
}

// PagesRules is the UI pages benchmark's rules document: two named
// filters and 5,000 rules over 500 flags (flag_000 to flag_499, whose
// variants are true, b or 20 by their number modulo 3).
func PagesRules() string {
	var rules strings.Builder
	rules.WriteString("filters:\n  teachers: \"attr:role = 'teacher'\"\n  anz: \"attr:country in ['AU', 'NZ']\"\nrules:\n")
	for i := range 5000 {
		f := i % 500
		val := []string{"true", "b", "20"}[f%3]
		fmt.Fprintf(&rules, "  rule_%04d:\n    filter: filter:teachers and attr:school_id = %d or insplit(attr:user_id, 0, %d)\n    priority: %d\n    variants: {flag_%03d: %s}\n",
			i, i, i%100, i%10, f, val)
	}
	return rules.String()
}
