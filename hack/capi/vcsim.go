package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	// The vAPI endpoints CAPV uses next to the SOAP API: its sessions log in to the REST API for
	// tags, and VSphereClusters use cluster modules for anti-affinity.
	_ "github.com/vmware/govmomi/vapi/cluster/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator"
)

// runVcsim serves a simulated vCenter (govmomi's VPX model: datacenter DC0, cluster DC0_C0,
// datastore LocalDS_0, network "VM Network", VMs such as DC0_H0_VM0 to clone from) over https
// with a self-signed certificate, until SIGTERM or SIGINT. It prints its URL, with the
// credentials, once it serves.
//
// The simulator runs no guest operating system, so nothing in its VMs would ever report an
// address. A guest agent stands in for what cloud-init and VMware Tools do in a real guest:
// when a powered-on VM carries cloud-init metadata (guestinfo.metadata, written by CAPV), it
// reports the first static address found there as the VM's guest IP (guest.ipAddress and
// guest.net[0], what a vSphere client shows). The address comes only from the VM's own
// metadata, so a wrong address written by CAPV shows as a wrong guest IP.
func runVcsim(args []string) error {
	fs := flag.NewFlagSet("vcsim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "host:port to serve the vSphere API on (https)")
	username := fs.String("username", "user", "the one user that may log in")
	password := fs.String("password", "pass", "its password")
	urlFile := fs.String("url-file", "", "also write the URL to this file once serving")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *username == "":
		return errors.New("--username: must not be empty")
	case *password == "":
		return errors.New("--password: must not be empty")
	}

	model := simulator.VPX()
	if err := model.Create(); err != nil {
		return err
	}
	defer model.Remove()
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	server, err := newServer(model.Service)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	defer server.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	agent := make(chan error, 1)
	go func() { agent <- guestAgent(ctx, server.URL) }()

	serverURL := server.URL.String()
	if *urlFile != "" {
		// Written whole or not at all: a reader polling for the file never sees half a URL.
		tmp := filepath.Join(filepath.Dir(*urlFile), "."+filepath.Base(*urlFile)+".tmp")
		if err := os.WriteFile(tmp, []byte(serverURL+"\n"), 0o600); err != nil {
			return fmt.Errorf("--url-file: %w", err)
		}
		if err := os.Rename(tmp, *urlFile); err != nil {
			return fmt.Errorf("--url-file: %w", err)
		}
	}
	fmt.Println(serverURL)

	select {
	case <-ctx.Done():
		return <-agent
	case err := <-agent:
		return fmt.Errorf("guest agent stopped: %w", err)
	}
}

// newServer starts the simulator's https server; the simulator panics when it cannot listen.
func newServer(service *simulator.Service) (server *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return service.NewServer(), nil
}

// guestAgent looks at every VM's power state and extraConfig through the vSphere API twice a
// second, as a guest would see its own, and reports each powered-on VM's metadata address as its
// guest IP. It polls rather than waiting on a property collector: a vSphere call made from inside
// vcsim's WaitForUpdates callback could hang the simulator for every client, and a blocked
// WaitForUpdatesEx keeps server.Close from returning.
func guestAgent(ctx context.Context, u *url.URL) error {
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer func() { _ = c.Logout(context.Background()) }()
	vms, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		var list []mo.VirtualMachine
		err := vms.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "runtime.powerState", "config.extraConfig", "guest.ipAddress"}, &list)
		if err != nil && ctx.Err() == nil {
			log.Printf("guest agent: listing VMs: %v", err)
		}
		for i := range list {
			if err := reportGuestIP(ctx, c.Client, &list[i]); err != nil && ctx.Err() == nil {
				log.Printf("guest agent: %s: %v", list[i].Name, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// reportGuestIP sets a powered-on VM's guest IP to the first address of its metadata, through
// the simulator's extraConfig hook SET.guest.ipAddress (sets guest.ipAddress and guest.net[0]).
func reportGuestIP(ctx context.Context, c *vim25.Client, vm *mo.VirtualMachine) error {
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || vm.Config == nil {
		return nil
	}
	addresses, err := metadataAddresses(vm.Config.ExtraConfig)
	if err != nil || len(addresses) == 0 {
		return err
	}
	ip, err := addressIP(addresses[0])
	if err != nil {
		return err
	}
	if vm.Guest != nil && vm.Guest.IpAddress == ip {
		return nil
	}
	task, err := object.NewVirtualMachine(c, vm.Reference()).Reconfigure(ctx, types.VirtualMachineConfigSpec{
		ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "SET.guest.ipAddress", Value: ip}},
	})
	if err != nil {
		return err
	}
	if err := task.Wait(ctx); err != nil {
		return err
	}
	log.Printf("guest agent: VM %s reports %s (from its guestinfo.metadata)", vm.Name, ip)
	return nil
}
