//go:build unix

package cli

import "syscall"

// defaultMaxConns leaves room under the open-file limit for the database,
// the log and the listener.
func defaultMaxConns() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur < 256 {
		return 128
	}
	return int(min(l.Cur-128, 16384))
}
