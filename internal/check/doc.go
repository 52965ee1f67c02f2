// Package check finds flags that rot: expired, unowned, undocumented,
// unused, deprecated but still called, and rules that are broken or can
// never decide anything. It is the library behind `vexil check`; it returns
// findings as values and never prints or exits.
//
// Each finding has a position (file:line:col), a rule ID and a severity:
//
//	rule                   severity  where      what
//	expired                error     flags.yaml the flag is past its expires date
//	expires-soon           warning   flags.yaml it expires within 14 days
//	no-owner               warning   flags.yaml the flag has no owner
//	no-description         info      flags.yaml the flag has no description
//	client-no-description  warning   flags.yaml a client: true flag has no description
//	unknown-kind           error     flags.yaml kind is not release, kill_switch, experiment, permission or ops
//	staleness-below-heartbeat warning flags.yaml max_staleness under 45s, the SDK stream's dead-connection timeout
//	kill-unsafe            info      flags.yaml no safe: value and a default that is true or non-empty: a kill would serve it
//	unused                 warning   flags.yaml no code calls the flag's accessors (--code)
//	deprecated-use         warning   Go code    a call of a deprecated flag's or an alias's accessor (--code)
//	unknown-flag           error     rules      a rule sets, or a filter reads, a flag that does not exist
//	unknown-variant        error     rules      a value that is not one of the flag's variants
//	unknown-attribute      error     rules      an attribute flags.yaml does not declare
//	unknown-filter         warning   rules      filter:NAME that does not exist (it is false)
//	unknown-rule           warning   rules      rule:NAME that does not exist (it is false)
//	cycle                  error     rules      filters or rules that refer to themselves
//	invalid-rules          error     rules      anything else the compiler rejects (syntax, types)
//	disabled               warning   rules      a disabled rule: it never decides anything
//	never-matches          warning   rules      a rule whose filter folds to false, or whose schedule has ended
//	shadowed               warning   rules      an earlier rule that always matches sets the same flags
//	split-overlap          warning   rules      same split group and flag, different values, overlapping insplit ranges
//	ready-to-remove        info      rules      the rules give the flag one value for everyone
//	stuck-rollout          warning   server     a partial rollout unchanged for 90 days (--server)
//	not-evaluated          info      flags.yaml no client reported evaluating the flag for 30 days (--server)
//
// The JSON form of a finding, a stable contract for scripts, is
//
//	{"file": "flags.yaml", "line": 21, "col": 14, "rule": "expired",
//	 "severity": "error", "message": "...", "flag": "old_report"}
//
// with "flag" left out when the finding is not about one flag, and "code",
// the compiler's diagnostic code (VX5001), on the compiler's own findings
// (unknown-*, cycle, invalid-rules, and never-matches for an empty insplit
// range) and left out on the others. vexil check
// writes a JSON array of them, sorted by file, line, column and rule.
//
// With --usage, vexil check lists every accessor call instead, sorted by
// flag and position; as JSON, an array of
//
//	{"file": "graph/schema.resolvers.go", "line": 27, "col": 36,
//	 "flag": "new_report", "accessor": "NewReport"}
//
// A `vexil:ignore RULE[,RULE...] why` comment waives the findings of those
// rules on its line, or, alone on a line, on the line below, in flags.yaml,
// a rules document or Go code (see Ignore).
//
// Input the check cannot work with (a flags.yaml or rules document that does
// not parse, Go code that does not load, a server that does not answer) is
// an *InputError listing every problem with its place; a rules document that
// parses but does not compile is checked, and the compiler's errors are
// findings.
package check
