// Command rusage runs a command and writes its wall time, CPU time and peak RSS, as
// JSON, to file descriptor 3; it exits with the command's status.
//
//	rusage command args... 3>report.json
//
// The bench measures its children through it because on Linux a child's
// ru_maxrss is at least its parent's peak RSS when the parent started it with
// vfork (as Go does): exec records the shared address space's high-water mark.
// Started from this small process, the command's figure is its own (or this
// process's few MiB, whichever is more).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Report is what rusage writes to fd 3.
type Report struct {
	WallNanos int64 `json:"wall_ns"`
	MaxRSSKiB int64 `json:"maxrss_kib"`
	CPUNanos  int64 `json:"cpu_ns"` // user + system
	Exit      int   `json:"exit"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rusage command args... 3>report")
		os.Exit(2)
	}
	report := os.NewFile(3, "report")
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	t0 := time.Now()
	err := cmd.Run()
	r := Report{WallNanos: int64(time.Since(t0))}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.Exit = exitErr.ExitCode()
	default:
		fmt.Fprintln(os.Stderr, "rusage:", err)
		os.Exit(127)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSSKiB = ru.Maxrss
		r.CPUNanos = ru.Utime.Nano() + ru.Stime.Nano()
	}
	if err := json.NewEncoder(report).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "rusage: writing the report:", err)
		os.Exit(127)
	}
	if r.Exit != 0 {
		os.Exit(r.Exit)
	}
}
