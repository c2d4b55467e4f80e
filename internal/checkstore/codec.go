package checkstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// MaxStoredFacts bounds the facts of one stored result: a parsed JSON body,
// a Redis INFO or query rows can be large, and each check keeps a list of
// results.
const MaxStoredFacts = 16 << 10

// EncodeResult turns a result's facts and assertion outcomes into JSON, nil
// for none. A fact that JSON cannot hold (a NaN) costs the result its facts,
// not the whole batch: warn, when not nil, says what was left out, for the
// store to log. Facts beyond MaxStoredFacts lose their largest values.
func EncodeResult(r nightowl.Result) (facts, assertions []byte, warn error) {
	var err error
	if len(r.Facts) > 0 {
		if facts, err = json.Marshal(r.Facts); err != nil {
			warn = fmt.Errorf("facts not stored: %w", err)
			facts = nil
		}
		if len(facts) > MaxStoredFacts {
			facts = shrink(r.Facts)
		}
	}
	if len(r.Assertions) > 0 {
		if assertions, err = json.Marshal(r.Assertions); err != nil {
			warn = fmt.Errorf("assertion results not stored: %w", err)
			assertions = nil
		}
	}
	return facts, assertions, warn
}

// shrink encodes facts within MaxStoredFacts by leaving out the largest
// values, largest first, and naming them under "_omitted".
func shrink(f nightowl.Facts) []byte {
	type sized struct {
		key string
		n   int
	}
	var all []sized
	for k, v := range f {
		b, _ := json.Marshal(v)
		all = append(all, sized{k, len(b)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	kept := maps.Clone(f)
	var omitted []string
	for _, s := range all {
		delete(kept, s.key)
		omitted = append(omitted, s.key)
		kept["_omitted"] = omitted
		if b, err := json.Marshal(kept); err == nil && len(b) <= MaxStoredFacts {
			return b
		}
	}
	b, _ := json.Marshal(map[string]any{"_omitted": omitted})
	return b
}

// DecodeResult sets r.Facts and r.Assertions from what EncodeResult wrote.
func DecodeResult(r *nightowl.Result, facts, assertions []byte) error {
	if len(facts) > 0 {
		f, err := decodeFacts(facts)
		if err != nil {
			return fmt.Errorf("facts: %w", err)
		}
		r.Facts = f
	}
	if len(assertions) > 0 {
		if err := json.Unmarshal(assertions, &r.Assertions); err != nil {
			return fmt.Errorf("assertions: %w", err)
		}
	}
	return nil
}

// decodeFacts reads facts back with whole numbers as int64 rather than
// float64, as most probes report them (status codes, counts, byte sizes
// beyond float64's exact range).
func decodeFacts(b []byte) (nightowl.Facts, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var f map[string]any
	if err := d.Decode(&f); err != nil {
		return nil, err
	}
	for k, v := range f {
		f[k] = numbers(v)
	}
	return nightowl.Facts(f), nil
}

func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = numbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbers(e)
		}
	}
	return v
}

// PeriodSecs returns the length in seconds of a rollup period, or an
// invalid error for a period nightowl does not keep.
func PeriodSecs(p nightowl.Period) (int64, error) {
	switch p {
	case nightowl.Hourly:
		return HourSecs, nil
	case nightowl.Daily:
		return DaySecs, nil
	}
	return 0, nightowl.Errorf(nightowl.EInvalid, "unknown rollup period %q", p)
}

// Rollup builds the rollup that a stored row holds. A damaged histogram
// still leaves runs, failures and max to show.
func Rollup(check string, p nightowl.Period, start time.Time, runs, failures, maxNS int64, hist []byte) nightowl.Rollup {
	ru := nightowl.Rollup{Check: check, Period: p, Start: start.UTC(), Runs: runs, Failures: failures,
		Max: float64(maxNS) / 1e9}
	if h, err := DecodeHist(hist); err == nil {
		ru.P50 = h.Quantile(0.50, maxNS) / 1e9
		ru.P95 = h.Quantile(0.95, maxNS) / 1e9
	}
	return ru
}

// EncodeStarted is a heartbeat's started runs as both stores keep them: a
// JSON object of Unix nanoseconds by run ID; nil, NULL, for none.
func EncodeStarted(h nightowl.Heartbeat) (*string, error) {
	if len(h.Started) == 0 {
		return nil, nil
	}
	m := make(map[string]int64, len(h.Started))
	for rid, at := range h.Started {
		m[rid] = at.UnixNano()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("heartbeat of %s: %w", h.Check, err)
	}
	s := string(b)
	return &s, nil
}

// DecodeStarted reads back what EncodeStarted wrote; nil for none.
func DecodeStarted(s string) (map[string]time.Time, error) {
	var m map[string]int64
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	started := make(map[string]time.Time, len(m))
	for rid, at := range m {
		started[rid] = time.Unix(0, at).UTC()
	}
	return started, nil
}

// WithQueued adds to the heartbeat states read from the database, in name
// order, the queued states of checks not written yet, keeping that order.
// The stores read the queue first, then the database, and the queue wins:
// a state that the writer commits in between is read twice, the same both
// times, rather than missed.
func WithQueued(stored []nightowl.Heartbeat, mem map[string]nightowl.Heartbeat) []nightowl.Heartbeat {
	if len(mem) == 0 {
		return stored
	}
	for _, h := range mem {
		stored = append(stored, h)
	}
	slices.SortFunc(stored, func(a, b nightowl.Heartbeat) int { return strings.Compare(a.Check, b.Check) })
	return stored
}
