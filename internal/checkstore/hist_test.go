package checkstore

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func(i int) time.Duration
	}{
		{"sub-millisecond", func(i int) time.Duration { return time.Duration(1000 + rng.IntN(999000)) }},
		{"log-uniform 1ms to 10s", func(i int) time.Duration {
			return time.Duration(math.Exp(math.Log(1e6) + rng.Float64()*math.Log(1e4)))
		}},
		{"one value", func(i int) time.Duration { return 5 * time.Second }},
		{"timeouts and fast answers", func(i int) time.Duration {
			if i%10 == 0 {
				return 10 * time.Second
			}
			return time.Duration(20+rng.IntN(10)) * time.Millisecond
		}},
		{"hours", func(i int) time.Duration { return time.Duration(1+rng.IntN(48)) * time.Hour }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var whole, a, b Hist
			ds := make([]int64, 1000)
			for i := range ds {
				ds[i] = int64(tc.gen(i))
				whole.Add(HistIndex(ds[i]), 1)
				// Two halves that must merge into the whole exactly.
				if i%3 == 0 {
					a.Add(HistIndex(ds[i]), 1)
				} else {
					b.Add(HistIndex(ds[i]), 1)
				}
			}
			slices.Sort(ds)
			top := ds[len(ds)-1]
			for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 1} {
				exact := float64(ds[int(math.Ceil(q*float64(len(ds))))-1])
				if got := whole.Quantile(q, top); math.Abs(got-exact) > HistAccuracy*exact {
					t.Errorf("q%v: %v, exact %v: off by %.2f%%", q, time.Duration(got), time.Duration(exact), 100*math.Abs(got-exact)/exact)
				}
			}
			a.Merge(b)
			if !reflect.DeepEqual(a, whole) {
				t.Errorf("merged halves differ from the whole")
			}
			dec, err := DecodeHist(whole.Encode())
			if err != nil || !reflect.DeepEqual(dec, whole) {
				t.Errorf("decode(encode) = %v, %v", dec, err)
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Hist
	if got := h.Quantile(0.5, 0); got != 0 {
		t.Errorf("empty: %v", got)
	}
	for _, d := range []int64{0, 1, 999} {
		if HistIndex(d) != 0 {
			t.Errorf("%dns not in bin 0", d)
		}
	}
	if HistIndex(math.MaxInt64) == 0 || HistIndex(math.MaxInt64) == math.MaxUint16 {
		t.Errorf("largest duration: bin %d", HistIndex(math.MaxInt64))
	}
	h.Add(HistIndex(0), 3)
	if got := h.Quantile(0.95, 0); got != 0 {
		t.Errorf("zero durations: p95 %v", got)
	}
	for _, tc := range []struct {
		name string
		blob []byte
	}{
		{"empty", nil},
		{"unknown format", []byte{9, 1, 1}},
		{"truncated", []byte{histFormat, 0x80}},
		{"bin out of range", []byte{histFormat, 0x80, 0x80, 0x04, 1, 1}},
		{"empty run", []byte{histFormat, 0, 0}},
		{"run cut short", []byte{histFormat, 0, 3, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeHist(tc.blob); err == nil {
				t.Error("decoded")
			}
		})
	}
}

func TestHistogramEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		bins Hist
	}{
		{"empty", nil},
		{"bin 0", Hist{{0, 5}}},
		{"adjacent", Hist{{10, 1}, {11, 300}, {12, 1}}},
		{"small gaps stay in the run", Hist{{10, 1}, {12, 2}, {15, 3}}},
		{"large gap starts a run", Hist{{10, 1}, {14, 2}, {400, 7}}},
		{"the last bin", Hist{{1, 1}, {math.MaxUint16, math.MaxUint32}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeHist(tc.bins.Encode())
			if err != nil || !reflect.DeepEqual(got, tc.bins) {
				t.Errorf("decode(encode(%v)) = %v, %v", tc.bins, got, err)
			}
		})
	}
}
