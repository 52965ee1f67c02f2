//go:build !unix

package cli

func defaultMaxConns() int { return 4096 }
