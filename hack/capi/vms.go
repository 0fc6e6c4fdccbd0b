package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
)

// vmInfo is what `vms` prints for each VM, one JSON line each: what a vSphere admin sees in
// vCenter (power state, the guest's reported IP) and the addresses CAPV wrote into the VM.
type vmInfo struct {
	Name              string   `json:"name"`
	PowerState        string   `json:"powerState"`
	GuestIP           string   `json:"guestIP"`
	MetadataAddresses []string `json:"metadataAddresses"`
}

// runVMs lists every VM of a vCenter (or the simulator) through the vSphere API, as
// `govc ls` + `govc vm.info -json` would.
func runVMs(args []string) error {
	fs := flag.NewFlagSet("vms", flag.ContinueOnError)
	rawURL := fs.String("url", os.Getenv("GOVC_URL"), "vCenter URL with credentials, https://USER:PASSWORD@HOST:PORT/sdk (default $GOVC_URL)")
	insecure := fs.Bool("insecure", os.Getenv("GOVC_INSECURE") == "1", "do not verify vCenter's certificate (default: $GOVC_INSECURE=1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rawURL == "" || fs.NArg() > 0 {
		return fmt.Errorf("--url: required (https://USER:PASSWORD@HOST:PORT/sdk), and no other arguments")
	}
	u, err := soap.ParseURL(*rawURL)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := govmomi.NewClient(ctx, u, *insecure)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", u.Redacted(), err)
	}
	defer func() { _ = c.Logout(context.Background()) }()
	v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return err
	}
	defer func() { _ = v.Destroy(context.Background()) }()
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "runtime.powerState", "guest.ipAddress", "config.extraConfig"}, &vms); err != nil {
		return err
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Name < vms[j].Name })
	out := json.NewEncoder(os.Stdout)
	for _, vm := range vms {
		info := vmInfo{Name: vm.Name, PowerState: string(vm.Runtime.PowerState), MetadataAddresses: []string{}}
		if vm.Guest != nil {
			info.GuestIP = vm.Guest.IpAddress
		}
		if vm.Config != nil {
			addresses, err := metadataAddresses(vm.Config.ExtraConfig)
			if err != nil {
				return fmt.Errorf("VM %s: %w", vm.Name, err)
			}
			info.MetadataAddresses = append(info.MetadataAddresses, addresses...)
		}
		if err := out.Encode(info); err != nil {
			return err
		}
	}
	return nil
}
