// Package vexiltest is vexil's test kit: golden files with -update, the
// repository's fixtures, the vexil binary built once per test binary, and
// `vexil serve` run as a real process. Its subpackage inproc runs the
// server inside the test with an injectable clock.
//
// Only tests import it (TestOnlyTests checks); it depends on nothing of
// vexil's, so any package's tests, the server's included, can use it.
package vexiltest
