package nightowl

import (
	"regexp"
	"testing"
)

func TestNewID(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		size   int
		want   string
	}{
		{"alert", "", 8, `^[a-z2-7]{13}$`},
		{"request", "r-", 5, `^r-[a-z2-7]{8}$`},
		{"window", "m-", 5, `^m-[a-z2-7]{8}$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := regexp.MustCompile(tt.want)
			seen := map[string]bool{}
			for range 100 {
				id := NewID(tt.prefix, tt.size)
				if !re.MatchString(id) {
					t.Fatalf("NewID(%q, %d) = %q, want %s", tt.prefix, tt.size, id, tt.want)
				}
				if seen[id] {
					t.Fatalf("NewID(%q, %d) gave %q twice", tt.prefix, tt.size, id)
				}
				seen[id] = true
			}
		})
	}
}
