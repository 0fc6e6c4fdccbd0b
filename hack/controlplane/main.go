// Command controlplane is a multicall binary: argv[1] picks etcd, kube-apiserver
// or kube-controller-manager, each built from its upstream Go module so tests run
// against the real Kubernetes control plane without downloading release binaries.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: controlplane etcd|kube-apiserver|kube-controller-manager [flags]")
		os.Exit(2)
	}
	dieWithParent()
	component, args := os.Args[1], os.Args[2:]
	switch component {
	case "etcd":
		etcdmain.Main(append([]string{"etcd"}, args...))
	case "kube-apiserver":
		cmd := apiserver.NewAPIServerCommand()
		cmd.SetArgs(args)
		os.Exit(cli.Run(cmd))
	case "kube-controller-manager":
		cmd := controllermanager.NewControllerManagerCommand()
		cmd.SetArgs(args)
		os.Exit(cli.Run(cmd))
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n", component)
		os.Exit(2)
	}
}

// dieWithParent makes the kernel send SIGTERM to this process when the process
// that started it dies, even by SIGKILL, so an interrupted test run leaves no
// orphan etcd or kube-apiserver behind. Opt-in: CONTROLPLANE_PARENT_PID=<pid>.
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
