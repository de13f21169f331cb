package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes, written as a plain byte count (1048576) or
// with a binary unit: 512KiB, 1MiB, 8MiB, 1GiB.
type Size int64

// Binary size units.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

type sizeUnit struct {
	suffix string
	size   Size
}

// sizeUnits is ordered largest first so that String picks the largest exact
// unit and UnmarshalText tries "B" last.
func sizeUnits() [4]sizeUnit {
	return [...]sizeUnit{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"B", 1}}
}

// String renders the size with the largest unit that divides it exactly.
func (s Size) String() string {
	for _, u := range sizeUnits() {
		if s != 0 && s%u.size == 0 {
			if u.size == 1 {
				return strconv.FormatInt(int64(s), 10)
			}
			return strconv.FormatInt(int64(s/u.size), 10) + u.suffix
		}
	}
	return "0"
}

// MarshalText renders the size as String does.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a byte count or a whole number of KiB, MiB or GiB.
// Decimal units (KB, MB) are refused rather than guessed.
func (s *Size) UnmarshalText(text []byte) error {
	in := strings.TrimSpace(string(text))
	digits, unit := in, Size(1)
	for _, u := range sizeUnits() {
		if n, ok := strings.CutSuffix(in, u.suffix); ok {
			digits, unit = strings.TrimSpace(n), u.size
			break
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || digits == "" || digits[0] == '+' {
		return fmt.Errorf("%q is not a size: write a byte count or a whole number of KiB, MiB or GiB, such as 512KiB or 8MiB", in)
	}
	if n > math.MaxInt64/int64(unit) {
		return fmt.Errorf("%q is too large", in)
	}
	*s = Size(n) * unit
	return nil
}
