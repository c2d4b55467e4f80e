package checkstore

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
)

// The histogram behind rollup percentiles. Durations fall into log-scale
// bins whose width grows with the value (as in DDSketch), so any percentile
// read back is within HistAccuracy of a duration that was really observed,
// whatever the scale: 1 ms and 10 s are both resolved to 2%. Counts per bin
// add up, so a rollup built across many flushes and restarts is exactly the
// one that would have been built in one go, and a day merges from its hours.
const (
	HistAccuracy = 0.02
	histGamma    = (1 + HistAccuracy) / (1 - HistAccuracy)
	// Durations under histUnit share bin 0 and read back as zero: below a
	// microsecond nothing a monitor measures is meaningful.
	histUnit = 1000 // nanoseconds
	// histFormat leads every stored histogram so that a later change of
	// accuracy can still read the rows written before it.
	histFormat = 1
)

var histLogGamma = math.Log(histGamma)

// Bin is one non-empty bin of a histogram.
type Bin struct {
	Idx uint16
	N   uint32
}

// Hist is a sparse histogram: the non-empty bins in ascending order. A check's
// durations cluster within a factor of a few, so a handful of bins is typical
// and a sorted slice beats a map.
type Hist []Bin

// HistIndex returns the bin of a duration in nanoseconds. Bin i >= 1 holds
// durations in (g^(i-2), g^(i-1)] microseconds, where g is histGamma.
func HistIndex(ns int64) uint16 {
	if ns < histUnit {
		return 0
	}
	i := 1 + math.Ceil(math.Log(float64(ns)/histUnit)/histLogGamma)
	return uint16(min(i, math.MaxUint16))
}

// histValue is the duration in nanoseconds that stands for bin i: the point
// whose relative distance to both edges of the bin is HistAccuracy.
func histValue(i uint16) float64 {
	if i == 0 {
		return 0
	}
	return histUnit * 2 * math.Pow(histGamma, float64(i)-1) / (histGamma + 1)
}

// Add counts n durations in bin idx.
func (h *Hist) Add(idx uint16, n uint32) {
	s := *h
	j := sort.Search(len(s), func(j int) bool { return s[j].Idx >= idx })
	if j < len(s) && s[j].Idx == idx {
		s[j].N += n
		return
	}
	s = append(s, Bin{})
	copy(s[j+1:], s[j:])
	s[j] = Bin{Idx: idx, N: n}
	*h = s
}

// Merge adds the counts of o.
func (h *Hist) Merge(o Hist) {
	for _, b := range o {
		h.Add(b.Idx, b.N)
	}
}

// Quantile returns the q-quantile (0 < q <= 1) in nanoseconds by the nearest
// rank, capped at top, the exact maximum, because a bin's representative may
// lie above the largest duration really seen.
func (h Hist) Quantile(q float64, top int64) float64 {
	var total uint64
	for _, b := range h {
		total += uint64(b.N)
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen uint64
	for _, b := range h {
		seen += uint64(b.N)
		if seen >= rank {
			return math.Min(histValue(b.Idx), float64(top))
		}
	}
	return float64(top)
}

// Encode writes the histogram as a format byte and then runs of adjacent
// bins, each as uvarints: bins skipped since the previous run, the number of
// bins in the run, and their counts. A check's durations fill a stretch of
// neighbouring bins, so this costs about a byte per bin. A gap of up to
// maxGap empty bins costs no more as zero counts than as a new run.
func (h Hist) Encode() []byte {
	const maxGap = 2
	out := make([]byte, 1, 8+len(h)*2)
	out[0] = histFormat
	next := 0 // the first bin not yet written
	for i := 0; i < len(h); {
		j := i + 1
		for j < len(h) && int(h[j].Idx)-int(h[j-1].Idx)-1 <= maxGap {
			j++
		}
		first, last := int(h[i].Idx), int(h[j-1].Idx)
		out = binary.AppendUvarint(out, uint64(first-next))
		out = binary.AppendUvarint(out, uint64(last-first+1))
		for _, b := range h[i:j] {
			for ; first < int(b.Idx); first++ {
				out = append(out, 0)
			}
			out = binary.AppendUvarint(out, uint64(b.N))
			first++
		}
		next = last + 1
		i = j
	}
	return out
}

var errHist = errors.New("malformed rollup histogram")

// DecodeHist reads what Encode wrote.

func DecodeHist(p []byte) (Hist, error) {
	if len(p) == 0 || p[0] != histFormat {
		return nil, errHist
	}
	p = p[1:]
	uvarint := func() (uint64, bool) {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return 0, false
		}
		p = p[k:]
		return v, true
	}
	var h Hist
	var next uint64
	for len(p) > 0 {
		skip, ok1 := uvarint()
		n, ok2 := uvarint()
		if !ok1 || !ok2 || n == 0 || skip > math.MaxUint16 || n > math.MaxUint16 || next+skip+n-1 > math.MaxUint16 {
			return nil, errHist
		}
		idx := next + skip
		for range n {
			c, ok := uvarint()
			if !ok || c > math.MaxUint32 {
				return nil, errHist
			}
			if c > 0 {
				h = append(h, Bin{Idx: uint16(idx), N: uint32(c)})
			}
			idx++
		}
		next = idx
	}
	return h, nil
}
