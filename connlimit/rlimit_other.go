//go:build !unix

package connlimit

// FileLimit has no limit to read here; the caller falls back to fixed caps.
func FileLimit() (uint64, error) { return 0, ErrNoLimit }
