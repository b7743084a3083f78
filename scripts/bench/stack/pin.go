package stack

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
)

// CPUs split the machine for a pinned run, as taskset(1) CPU lists: the
// server under test alone on Server, the load generator and the stand-in
// on Rest. Unpinned, the server and the load generator take turns on every
// core, and the load generator's own work per request weighs in both
// servers' throughput alike, which pulls their ratio towards 1.
type CPUs struct{ Server, Rest string }

// PinnedCPUs returns the split of a machine with at least two CPUs when
// taskset is installed, and false otherwise.
func PinnedCPUs() (CPUs, bool) {
	if _, err := exec.LookPath("taskset"); err != nil || runtime.NumCPU() < 2 {
		return CPUs{}, false
	}
	return CPUs{Server: "0", Rest: "1"}, true
}

// OnCPUs returns the command that runs bin with args on cpus, a taskset
// CPU list; with cpus "" it is bin itself. The Go runtime of bin then sizes
// GOMAXPROCS to cpus, as it would under any CPU limit.
func OnCPUs(cpus, bin string, args []string) (string, []string) {
	if cpus == "" {
		return bin, args
	}
	return "taskset", append([]string{"-c", cpus, bin}, args...)
}

// PinSelf moves every thread of this process to cpus and sizes GOMAXPROCS
// to match.
func PinSelf(cpus string, n int) error {
	if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		return fmt.Errorf("taskset -a -p -c %s: %v: %s", cpus, err, out)
	}
	runtime.GOMAXPROCS(n)
	return nil
}
