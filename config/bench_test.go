package config

import (
	"os"
	"testing"
)

// BenchmarkLoadExample measures loading the full example (run once per start;
// measured to keep fuzzing fast, not because start-up needs it).
func BenchmarkLoadExample(b *testing.B) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	env := []string{"UPSTREAM_KEY=k", "HOME=/root", "SCIMGATE_LOG_LEVEL=debug"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := load("example.yaml", data, env); err != nil {
			b.Fatal(err)
		}
	}
}
