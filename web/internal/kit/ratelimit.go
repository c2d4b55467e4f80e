package kit

import (
	"container/list"
	"fmt"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
)

// Buckets is a token bucket per key (an alert, a client address), in
// memory: each key may spend burst requests at once and gets one back
// every per. A key whose bucket has filled up again is forgotten, and at
// most maxKeys are kept: past that, a new key takes the place of the key
// used least recently (most likely one whose bucket has filled up again),
// so that a flood of fresh keys neither grows the map nor makes everyone
// else share one bucket with it.
type Buckets struct {
	burst   float64
	per     time.Duration
	maxKeys int

	mu    sync.Mutex
	keys  map[string]*list.Element // of *bucket
	lru   *list.List               // most recently used first
	swept time.Time
}

type bucket struct {
	key    string
	tokens float64
	at     time.Time
}

func NewBuckets(burst int, per time.Duration, maxKeys int) *Buckets {
	return &Buckets{burst: float64(burst), per: per, maxKeys: max(1, maxKeys),
		keys: make(map[string]*list.Element), lru: list.New()}
}

// Take spends one token of key's bucket; when there is none it returns how
// long until there is.
func (l *Buckets) Take(key string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.per*time.Duration(l.burst) {
		l.sweep(now)
	}
	e, found := l.keys[key]
	if found {
		l.lru.MoveToFront(e)
	} else {
		if len(l.keys) >= l.maxKeys {
			oldest := l.lru.Back()
			l.lru.Remove(oldest)
			delete(l.keys, oldest.Value.(*bucket).key)
		}
		e = l.lru.PushFront(&bucket{key: key, tokens: l.burst, at: now})
		l.keys[key] = e
	}
	b := e.Value.(*bucket)
	l.refill(b, now)
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) * float64(l.per)), false
	}
	b.tokens--
	return 0, true
}

func (l *Buckets) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.per))
	}
	b.at = now
}

// sweep forgets the keys whose bucket is full again: they are as good as
// new.
func (l *Buckets) sweep(now time.Time) {
	for k, e := range l.keys {
		b := e.Value.(*bucket)
		l.refill(b, now)
		if b.tokens >= l.burst {
			l.lru.Remove(e)
			delete(l.keys, k)
		}
	}
	l.swept = now
}

// TooMany is a refusal by one of these limits, to be tried again after.
func TooMany(after time.Duration, format string, args ...any) error {
	secs := int((after + time.Second - 1) / time.Second)
	return nightowl.RateLimited(after, "%s: try again in %d seconds", fmt.Sprintf(format, args...), secs)
}

// MaxKeys is how many keys the server's limits keep each: enough for every
// client of a busy hour, little enough to hold in memory.
const MaxKeys = 10000
