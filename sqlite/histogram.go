package sqlite

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
)

// The histogram behind rollup percentiles. Durations fall into log-scale
// bins whose width grows with the value (as in DDSketch), so any percentile
// read back is within histAccuracy of a duration that was really observed,
// whatever the scale: 1 ms and 10 s are both resolved to 2%. Counts per bin
// add up, so a rollup built across many flushes and restarts is exactly the
// one that would have been built in one go, and a day merges from its hours.
const (
	histAccuracy = 0.02
	histGamma    = (1 + histAccuracy) / (1 - histAccuracy)
	// Durations under histUnit share bin 0 and read back as zero: below a
	// microsecond nothing a monitor measures is meaningful.
	histUnit = 1000 // nanoseconds
	// histFormat leads every stored histogram so that a later change of
	// accuracy can still read the rows written before it.
	histFormat = 1
)

var histLogGamma = math.Log(histGamma)

// bin is one non-empty bin of a histogram.
type bin struct {
	idx uint16
	n   uint32
}

// hist is a sparse histogram: the non-empty bins in ascending order. A check's
// durations cluster within a factor of a few, so a handful of bins is typical
// and a sorted slice beats a map.
type hist []bin

// histIndex returns the bin of a duration in nanoseconds. Bin i >= 1 holds
// durations in (g^(i-2), g^(i-1)] microseconds, where g is histGamma.
func histIndex(ns int64) uint16 {
	if ns < histUnit {
		return 0
	}
	i := 1 + math.Ceil(math.Log(float64(ns)/histUnit)/histLogGamma)
	return uint16(min(i, math.MaxUint16))
}

// histValue is the duration in nanoseconds that stands for bin i: the point
// whose relative distance to both edges of the bin is histAccuracy.
func histValue(i uint16) float64 {
	if i == 0 {
		return 0
	}
	return histUnit * 2 * math.Pow(histGamma, float64(i)-1) / (histGamma + 1)
}

func (h *hist) add(idx uint16, n uint32) {
	s := *h
	j := sort.Search(len(s), func(j int) bool { return s[j].idx >= idx })
	if j < len(s) && s[j].idx == idx {
		s[j].n += n
		return
	}
	s = append(s, bin{})
	copy(s[j+1:], s[j:])
	s[j] = bin{idx: idx, n: n}
	*h = s
}

func (h *hist) merge(o hist) {
	for _, b := range o {
		h.add(b.idx, b.n)
	}
}

// quantile returns the q-quantile (0 < q <= 1) in nanoseconds by the nearest
// rank, capped at top, the exact maximum, because a bin's representative may
// lie above the largest duration really seen.
func (h hist) quantile(q float64, top int64) float64 {
	var total uint64
	for _, b := range h {
		total += uint64(b.n)
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen uint64
	for _, b := range h {
		seen += uint64(b.n)
		if seen >= rank {
			return math.Min(histValue(b.idx), float64(top))
		}
	}
	return float64(top)
}

// encode writes the histogram as a format byte and then runs of adjacent
// bins, each as uvarints: bins skipped since the previous run, the number of
// bins in the run, and their counts. A check's durations fill a stretch of
// neighbouring bins, so this costs about a byte per bin. A gap of up to
// maxGap empty bins costs no more as zero counts than as a new run.
func (h hist) encode() []byte {
	const maxGap = 2
	out := make([]byte, 1, 8+len(h)*2)
	out[0] = histFormat
	next := 0 // the first bin not yet written
	for i := 0; i < len(h); {
		j := i + 1
		for j < len(h) && int(h[j].idx)-int(h[j-1].idx)-1 <= maxGap {
			j++
		}
		first, last := int(h[i].idx), int(h[j-1].idx)
		out = binary.AppendUvarint(out, uint64(first-next))
		out = binary.AppendUvarint(out, uint64(last-first+1))
		for _, b := range h[i:j] {
			for ; first < int(b.idx); first++ {
				out = append(out, 0)
			}
			out = binary.AppendUvarint(out, uint64(b.n))
			first++
		}
		next = last + 1
		i = j
	}
	return out
}

var errHist = errors.New("malformed rollup histogram")

func decodeHist(p []byte) (hist, error) {
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
	var h hist
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
				h = append(h, bin{idx: uint16(idx), n: uint32(c)})
			}
			idx++
		}
		next = idx
	}
	return h, nil
}
