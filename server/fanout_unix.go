//go:build unix

package server

import (
	"errors"
	"syscall"
)

// writeNonblocking writes what of b the socket fd takes without waiting: a
// full socket buffer is 0 bytes and no error.
func writeNonblocking(fd uintptr, b []byte) (int, error) {
	for {
		n, err := syscall.Write(int(fd), b)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return 0, nil
		case err != nil:
			return 0, err
		}
		return n, nil
	}
}
