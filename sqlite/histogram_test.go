package sqlite

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
			var whole, a, b hist
			ds := make([]int64, 1000)
			for i := range ds {
				ds[i] = int64(tc.gen(i))
				whole.add(histIndex(ds[i]), 1)
				// Two halves that must merge into the whole exactly.
				if i%3 == 0 {
					a.add(histIndex(ds[i]), 1)
				} else {
					b.add(histIndex(ds[i]), 1)
				}
			}
			slices.Sort(ds)
			top := ds[len(ds)-1]
			for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 1} {
				exact := float64(ds[int(math.Ceil(q*float64(len(ds))))-1])
				if got := whole.quantile(q, top); math.Abs(got-exact) > histAccuracy*exact {
					t.Errorf("q%v: %v, exact %v: off by %.2f%%", q, time.Duration(got), time.Duration(exact), 100*math.Abs(got-exact)/exact)
				}
			}
			a.merge(b)
			if !reflect.DeepEqual(a, whole) {
				t.Errorf("merged halves differ from the whole")
			}
			dec, err := decodeHist(whole.encode())
			if err != nil || !reflect.DeepEqual(dec, whole) {
				t.Errorf("decode(encode) = %v, %v", dec, err)
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h hist
	if got := h.quantile(0.5, 0); got != 0 {
		t.Errorf("empty: %v", got)
	}
	for _, d := range []int64{0, 1, 999} {
		if histIndex(d) != 0 {
			t.Errorf("%dns not in bin 0", d)
		}
	}
	if histIndex(math.MaxInt64) == 0 || histIndex(math.MaxInt64) == math.MaxUint16 {
		t.Errorf("largest duration: bin %d", histIndex(math.MaxInt64))
	}
	h.add(histIndex(0), 3)
	if got := h.quantile(0.95, 0); got != 0 {
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
			if _, err := decodeHist(tc.blob); err == nil {
				t.Error("decoded")
			}
		})
	}
}

func TestHistogramEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		bins hist
	}{
		{"empty", nil},
		{"bin 0", hist{{0, 5}}},
		{"adjacent", hist{{10, 1}, {11, 300}, {12, 1}}},
		{"small gaps stay in the run", hist{{10, 1}, {12, 2}, {15, 3}}},
		{"large gap starts a run", hist{{10, 1}, {14, 2}, {400, 7}}},
		{"the last bin", hist{{1, 1}, {math.MaxUint16, math.MaxUint32}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeHist(tc.bins.encode())
			if err != nil || !reflect.DeepEqual(got, tc.bins) {
				t.Errorf("decode(encode(%v)) = %v, %v", tc.bins, got, err)
			}
		})
	}
}
