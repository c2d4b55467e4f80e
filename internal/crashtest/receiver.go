package crashtest

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nightowl/nightowl"
)

// runHeader carries the number of the server process that sent a request:
// the harness writes it into the webhook's headers before each start, so
// that a duplicate can be traced to the process that sent it first.
const runHeader = "X-Crash-Run"

// The two webhook receivers, by the last element of their path, and their
// IDs in the config. The flaky one refuses some requests.
const (
	steady = "steady"
	flaky  = "flaky"
)

var receiverNames = map[string]string{"ops[0]": steady, "ops[1]": flaky}

// receipt is one request a receiver got.
type receipt struct {
	Receiver string // steady or flaky
	Key      string // the Idempotency-Key header
	Run      int    // the server process that sent it
	Kind     nightowl.MessageKind
	AlertID  string
	Status   int // what the receiver answered
}

func (r receipt) accepted() bool { return r.Status >= 200 && r.Status < 300 }

// receiver is the webhook end of every notification. It records a request
// before it answers, and it lives across every restart of the server, so
// that what it reports is what a receiver really got.
type receiver struct {
	// refuse is the fraction of requests to the flaky receiver answered
	// 429 (with Retry-After: 1) or, one time in five, 503.
	refuse float64
	// hold bounds how long a request is held between being recorded and
	// being answered: a kill that falls there is a send that the server
	// did not live to record.
	hold time.Duration

	mu  sync.Mutex
	rng *rand.Rand
	got []receipt

	// arrived is signalled as each request is recorded; the harness aims
	// some kills at it.
	arrived  chan struct{}
	inflight atomic.Int32
}

func newReceiver(rng *rand.Rand, refuse float64, hold time.Duration) *receiver {
	return &receiver{rng: rng, refuse: refuse, hold: hold, arrived: make(chan struct{}, 1)}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.inflight.Add(1)
	defer rc.inflight.Add(-1)
	name := strings.TrimPrefix(r.URL.Path, "/hook/")
	var m nightowl.Message
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		// A body cut short by a kill: not a delivery, and the sender
		// that comes back will try again.
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	run, _ := strconv.Atoi(r.Header.Get(runHeader))
	rc.mu.Lock()
	status := http.StatusOK
	if name == flaky && rc.rng.Float64() < rc.refuse {
		status = http.StatusTooManyRequests
		if rc.rng.IntN(5) == 0 {
			status = http.StatusServiceUnavailable
		}
	}
	hold := time.Duration(rc.rng.Int64N(int64(rc.hold) + 1))
	rc.got = append(rc.got, receipt{
		Receiver: name, Key: r.Header.Get("Idempotency-Key"), Run: run,
		Kind: m.Kind, AlertID: m.Alert.ID, Status: status,
	})
	rc.mu.Unlock()
	select {
	case rc.arrived <- struct{}{}:
	default:
	}
	time.Sleep(hold)
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
}

// receipts returns a copy of what was received so far.
func (rc *receiver) receipts() []receipt {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// drainArrivals forgets arrivals signalled before now.
func (rc *receiver) drainArrivals() {
	select {
	case <-rc.arrived:
	default:
	}
}
