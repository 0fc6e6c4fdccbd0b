package main

import (
	"context"
	"crypto/tls"
	"slices"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	infrav1 "sigs.k8s.io/cluster-api-provider-vsphere/apis/v1beta1"
	"sigs.k8s.io/cluster-api-provider-vsphere/pkg/services/govmomi/extra"
	"sigs.k8s.io/cluster-api-provider-vsphere/pkg/util"
)

// capvMetadata is the extraConfig CAPV writes into a VM whose two devices got these addresses
// from IPAM, made by CAPV's own code.
func capvMetadata(t *testing.T, macs []string, addresses ...string) []types.BaseOptionValue {
	t.Helper()
	vm := infrav1.VSphereVM{}
	ipam := map[string]infrav1.NetworkDeviceSpec{}
	statuses := []infrav1.NetworkStatus{}
	for i, address := range addresses {
		vm.Spec.Network.Devices = append(vm.Spec.Network.Devices, infrav1.NetworkDeviceSpec{NetworkName: "VM Network", Nameservers: []string{"10.0.0.2"}})
		ipam[macs[i]] = infrav1.NetworkDeviceSpec{IPAddrs: []string{address}, Gateway4: "10.11.12.1"}
		statuses = append(statuses, infrav1.NetworkStatus{MACAddr: macs[i]})
	}
	metadata, err := util.GetMachineMetadata("machine-0", vm, ipam, statuses...)
	if err != nil {
		t.Fatal(err)
	}
	var config extra.Config
	config.SetCloudInitMetadata(metadata)
	return config
}

func TestMetadataAddressesReadsWhatCAPVWrites(t *testing.T) {
	got, err := metadataAddresses(capvMetadata(t, []string{"00:50:56:00:00:01", "00:50:56:00:00:02"}, "10.11.12.13/24", "10.20.0.7/16"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.11.12.13/24", "10.20.0.7/16"}; !slices.Equal(got, want) {
		t.Fatalf("metadataAddresses = %q, want %q", got, want)
	}
	if got, err := metadataAddresses(nil); err != nil || got != nil {
		t.Fatalf("no metadata: got %q, %v; want none", got, err)
	}
	_, err = metadataAddresses([]types.BaseOptionValue{
		&types.OptionValue{Key: "guestinfo.metadata", Value: "H4sI"},
		&types.OptionValue{Key: "guestinfo.metadata.encoding", Value: "gzip+base64"},
	})
	if err == nil || err.Error() != `guestinfo.metadata.encoding: "gzip+base64" is not supported (base64 or none)` {
		t.Fatalf("gzip metadata: err = %v", err)
	}
}

func TestGuestAgentReportsTheAddressCAPVWroteIntoThePoweredOnVM(t *testing.T) {
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	defer model.Remove()
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()
	defer server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	agent := make(chan error, 1)
	go func() { agent <- guestAgent(ctx, server.URL) }()

	c, err := govmomi.NewClient(ctx, server.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	finder := find.NewFinder(c.Client)
	on, err := finder.VirtualMachine(ctx, "/DC0/vm/DC0_H0_VM0")
	if err != nil {
		t.Fatal(err)
	}
	off, err := finder.VirtualMachine(ctx, "/DC0/vm/DC0_H0_VM1")
	if err != nil {
		t.Fatal(err)
	}
	if task, err := off.PowerOff(ctx); err != nil || task.Wait(ctx) != nil {
		t.Fatalf("power off: %v", err)
	}
	// The powered-off VM first: the agent handles updates in order, so once the other VM reports
	// its address, this one has been seen.
	writeMetadata := func(vm *object.VirtualMachine, address string) {
		var nic mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"guest.net"}, &nic); err != nil {
			t.Fatal(err)
		}
		task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: capvMetadata(t, []string{nic.Guest.Net[0].MacAddress}, address)})
		if err != nil || task.Wait(ctx) != nil {
			t.Fatalf("reconfigure: %v", err)
		}
	}
	writeMetadata(off, "10.11.12.14/24")
	writeMetadata(on, "10.11.12.13/24")

	err = property.Wait(ctx, property.DefaultCollector(c.Client), on.Reference(), []string{"guest.net"}, func(changes []types.PropertyChange) bool {
		for _, change := range changes {
			if nics, ok := change.Val.(types.ArrayOfGuestNicInfo); ok && len(nics.GuestNicInfo) > 0 {
				return slices.Equal(nics.GuestNicInfo[0].IpAddress, []string{"10.11.12.13"})
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("waiting for the powered-on VM's guest.net[0] to show 10.11.12.13: %v", err)
	}
	var vms [2]mo.VirtualMachine
	for i, vm := range []*object.VirtualMachine{on, off} {
		if err := vm.Properties(ctx, vm.Reference(), []string{"guest.ipAddress"}, &vms[i]); err != nil {
			t.Fatal(err)
		}
	}
	if vms[0].Guest.IpAddress != "10.11.12.13" {
		t.Fatalf("powered-on VM: guest.ipAddress = %q, want 10.11.12.13", vms[0].Guest.IpAddress)
	}
	if vms[1].Guest.IpAddress == "10.11.12.14" {
		t.Fatal("powered-off VM reports its address: no guest runs in it")
	}

	// Powered on, its guest comes up and reports its address.
	if task, err := off.PowerOn(ctx); err != nil || task.Wait(ctx) != nil {
		t.Fatalf("power on: %v", err)
	}
	err = property.Wait(ctx, property.DefaultCollector(c.Client), off.Reference(), []string{"guest.ipAddress"}, func(changes []types.PropertyChange) bool {
		return slices.ContainsFunc(changes, func(change types.PropertyChange) bool { return change.Val == "10.11.12.14" })
	})
	if err != nil {
		t.Fatalf("waiting for the VM powered on to report 10.11.12.14: %v", err)
	}
	cancel()
	if err := <-agent; err != nil {
		t.Fatalf("guest agent: %v", err)
	}
}
