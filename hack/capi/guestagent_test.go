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
	t.Cleanup(model.Remove)
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()
	t.Cleanup(server.Close) // after the agent has stopped: Close waits for its pending WaitForUpdatesEx
	ctx, cancel := context.WithCancel(context.Background())
	agent := make(chan error, 1)
	go func() { agent <- guestAgent(ctx, server.URL) }()
	t.Cleanup(func() {
		cancel()
		if err := <-agent; err != nil {
			t.Errorf("guest agent: %v", err)
		}
	})

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

	guest := func(vm *object.VirtualMachine) (ip string, net0 []string) {
		var props mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"guest.ipAddress", "guest.net"}, &props); err != nil {
			t.Fatal(err)
		}
		if props.Guest == nil {
			return "", nil
		}
		if len(props.Guest.Net) > 0 {
			net0 = props.Guest.Net[0].IpAddress
		}
		return props.Guest.IpAddress, net0
	}
	eventually(t, "the powered-on VM to report 10.11.12.13 in guest.ipAddress and guest.net[0]", func() bool {
		ip, net0 := guest(on)
		return ip == "10.11.12.13" && slices.Equal(net0, []string{"10.11.12.13"})
	})
	if ip, _ := guest(off); ip != "" {
		t.Fatalf("powered-off VM reports %q: no guest runs in it", ip)
	}

	// Powered on, its guest comes up and reports its address.
	if task, err := off.PowerOn(ctx); err != nil || task.Wait(ctx) != nil {
		t.Fatalf("power on: %v", err)
	}
	eventually(t, "the VM powered on to report 10.11.12.14", func() bool {
		ip, _ := guest(off)
		return ip == "10.11.12.14"
	})
}

// eventually fails the test unless cond becomes true within a minute (the machine may be busy).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
