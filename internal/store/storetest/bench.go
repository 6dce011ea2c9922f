package storetest

import (
	"os"
	"strconv"
	"testing"
)

// BenchSize is how big a benchmark runs: the positive number in the
// environment variable name, or def when it is unset.
func BenchSize(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}
