package authserver

import "testing"

func TestDescriptionText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"client authentication failed", "client authentication failed"},
		{`parameter "scope" is repeated`, "parameter 'scope' is repeated"},
		{`a\b`, "a/b"},
		{"scope 'é' is not allowed", "scope '?' is not allowed"},
		{"line\nbreak\x7f", "line?break?"},
		{"", ""},
	}
	for _, tt := range tests {
		got := descriptionText(tt.in)
		if got != tt.want || !isErrorDescription(got) {
			t.Errorf("descriptionText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
