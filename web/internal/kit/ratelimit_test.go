package kit

import (
	"fmt"
	"testing"
	"time"
)

// TestBucketsFullOfKeys: once the most keys are held, a flood of fresh
// keys does not make new clients share one spent bucket: each new key gets
// a bucket of its own in place of the one used least recently.
func TestBucketsFullOfKeys(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := NewBuckets(1, time.Minute, 3)
	for i := range 50 {
		if _, ok := b.Take(fmt.Sprint("flood-", i), now); !ok {
			t.Fatalf("fresh key %d refused: it shares a spent bucket", i)
		}
	}
	if _, ok := b.Take("you", now); !ok {
		t.Fatal("a client after the flood was refused")
	}
	if _, ok := b.Take("you", now); ok {
		t.Fatal("a key's own limit no longer holds")
	}
	if len(b.keys) != 3 || b.lru.Len() != 3 {
		t.Fatalf("%d keys, %d in the list; want 3", len(b.keys), b.lru.Len())
	}
}
