//go:build !linux

package learning_test

import "time"

var processStart = time.Now()

// threadCPU falls back to the clock where the thread's CPU time cannot be
// read.
func threadCPU() time.Duration { return time.Since(processStart) }

// processCPU falls back to the clock where the process's CPU time cannot
// be read.
func processCPU() time.Duration { return time.Since(processStart) }
