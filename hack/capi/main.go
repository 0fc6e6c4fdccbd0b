// Command capi is the multicall binary of the local mode's real machines: argv[1] picks
//
//	cluster-api  the Cluster API core manager (sigs.k8s.io/cluster-api's main), flags as upstream
//	vsphere      the Cluster API vSphere provider, CAPV (sigs.k8s.io/cluster-api-provider-vsphere's main)
//	vcsim        a vCenter simulator over govmomi's simulator library, with a guest agent (vcsim.go)
//	vms          a small vSphere client listing every VM as JSON lines (vms.go)
//
// The two managers' main packages are compiled in as libraries: hack/build-capi.sh builds with
// mirrors of their modules whose main.go says `package <name>` and `func Main()`, so their code
// runs unchanged (a plain `go build` here fails: "is a program, not an importable package").
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	clusterapi "sigs.k8s.io/cluster-api"
	capv "sigs.k8s.io/cluster-api-provider-vsphere"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: capi cluster-api|vsphere|vcsim|vms [flags]")
		os.Exit(2)
	}
	dieWithParent()
	component, args := os.Args[1], os.Args[2:]
	// The managers parse os.Args[1:] with pflag.
	os.Args = append([]string{component}, args...)
	var err error
	switch component {
	case "cluster-api":
		clusterapi.Main()
	case "vsphere":
		capv.Main()
	case "vcsim":
		err = runVcsim(args)
	case "vms":
		err = runVMs(args)
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n", component)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", component, err)
		os.Exit(1)
	}
}

// dieWithParent makes the kernel send SIGTERM to this process when the process that started it
// dies, even by SIGKILL, so an interrupted run leaves no orphan manager or simulator behind.
// Opt-in with CONTROLPLANE_PARENT_PID=<pid>, the variable src/local/controlplane.ts sets for
// the control plane binary's components. The same as hack/controlplane's: a package shared by the
// two Go modules would need a third module and a change to the control plane's go.mod (its cache key).
func dieWithParent() {
	parent, err := strconv.Atoi(os.Getenv("CONTROLPLANE_PARENT_PID"))
	if err != nil {
		return
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
		fmt.Fprintf(os.Stderr, "prctl(PR_SET_PDEATHSIG): %v\n", errno)
	}
	// The parent may have died before prctl took effect.
	if os.Getppid() != parent {
		os.Exit(1)
	}
}
