package main

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/vim25/types"
	"sigs.k8s.io/yaml"
)

// metadataAddresses returns the static addresses CAPV wrote into a VM's cloud-init metadata
// (extraConfig guestinfo.metadata, base64 when guestinfo.metadata.encoding says so): the netplan
// `addresses` of each ethernet, devices in CAPV's order (id0, id1, ...), as written ("10.0.0.5/24").
// None when the VM has no metadata (a template, a VM CAPV has not configured yet).
func metadataAddresses(extraConfig []types.BaseOptionValue) ([]string, error) {
	values := map[string]string{}
	for _, option := range extraConfig {
		if v := option.GetOptionValue(); v != nil {
			if s, ok := v.Value.(string); ok {
				values[v.Key] = s
			}
		}
	}
	raw, ok := values["guestinfo.metadata"]
	if !ok {
		return nil, nil
	}
	switch encoding := values["guestinfo.metadata.encoding"]; encoding {
	case "":
	case "base64", "b64":
		decoded, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return nil, fmt.Errorf("guestinfo.metadata: not base64: %w", err)
		}
		raw = string(decoded)
	default:
		return nil, fmt.Errorf("guestinfo.metadata.encoding: %q is not supported (base64 or none)", encoding)
	}
	var metadata struct {
		Network struct {
			Ethernets map[string]struct {
				Addresses []string `json:"addresses"`
			} `json:"ethernets"`
		} `json:"network"`
	}
	if err := yaml.Unmarshal([]byte(raw), &metadata); err != nil {
		return nil, fmt.Errorf("guestinfo.metadata: %w", err)
	}
	ids := make([]string, 0, len(metadata.Network.Ethernets))
	for id := range metadata.Network.Ethernets {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return deviceIndex(ids[i]) < deviceIndex(ids[j]) })
	addresses := []string{}
	for _, id := range ids {
		addresses = append(addresses, metadata.Network.Ethernets[id].Addresses...)
	}
	return addresses, nil
}

// deviceIndex orders CAPV's ethernet ids numerically (id2 before id10).
func deviceIndex(id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "id"))
	if err != nil {
		return int(^uint(0) >> 1)
	}
	return n
}

// addressIP is the IP of a netplan address, written with or without its prefix length.
func addressIP(address string) (string, error) {
	if prefix, err := netip.ParsePrefix(address); err == nil {
		return prefix.Addr().String(), nil
	}
	ip, err := netip.ParseAddr(address)
	if err != nil {
		return "", fmt.Errorf("guestinfo.metadata: address %q is neither an IP nor a CIDR", address)
	}
	return ip.String(), nil
}
