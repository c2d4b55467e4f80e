package sqlite

import "github.com/nightowl/nightowl/internal/checkstore"

// The histogram behind rollup percentiles lives in internal/checkstore,
// shared with the postgres store; these are the names that merge_hist
// (driver.go) knows it by.
type hist checkstore.Hist

func decodeHist(p []byte) (hist, error) {
	h, err := checkstore.DecodeHist(p)
	return hist(h), err
}

func (h *hist) merge(o hist) { (*checkstore.Hist)(h).Merge(checkstore.Hist(o)) }

func (h hist) encode() []byte { return checkstore.Hist(h).Encode() }
