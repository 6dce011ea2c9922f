package learning_test

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time the calling OS thread has used. Timing a
// render by it rather than by the clock leaves out the time the thread
// waited for a core, which on a shared machine running other tests can
// be most of it.
func threadCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &u); err != nil {
		panic(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// processCPU is the CPU time the whole process has used, every thread and
// the garbage collector's included.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		panic(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
