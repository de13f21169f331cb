package config_test

import (
	"testing"

	"github.com/scimgate/scimgate/config"
)

func TestSize(t *testing.T) {
	for in, want := range map[string]config.Size{
		"0": 0, "1": 1, "1048576": config.MiB, "512KiB": 512 * config.KiB, "1MiB": config.MiB,
		"8MiB": 8 * config.MiB, "2GiB": 2 * config.GiB, "1 MiB": config.MiB, "100B": 100,
	} {
		var got config.Size
		if err := got.UnmarshalText([]byte(in)); err != nil || got != want {
			t.Errorf("%q = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1MB", "1mib", "1.5MiB", "-1", "+1", "1 KiB B", "9223372036854775807KiB", "0x10"} {
		var got config.Size
		if err := got.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q = %d, want an error", in, got)
		}
	}
	for size, want := range map[config.Size]string{0: "0", 1: "1", 1536: "1536", 3072: "3KiB", config.MiB: "1MiB", 3 * config.GiB: "3GiB", config.MiB + 1: "1048577"} {
		if got := size.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(size), got, want)
		}
	}
}
