package config

import _ "embed"

//go:embed example.yaml
var example []byte

// Example returns config/example.yaml, the fully commented configuration
// `scimgate config example` prints.
func Example() []byte { return append([]byte(nil), example...) }
