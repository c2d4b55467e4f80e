package probe

import (
	"bufio"
	"bytes"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// FuzzRESPReply: whatever a peer sends, the reader returns an error or one
// reply within the bounds, and a reply written back in RESP reads as the
// same reply.
func FuzzRESPReply(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n", "-WRONGPASS invalid\r\n", ":42\r\n", "$5\r\nhello\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n",
		"*2\r\n$4\r\nrole\r\n*1\r\n:1\r\n", "HTTP/1.1 400 Bad Request\r\n", "+no crlf\n", "$3\r\nab", "$99999999999\r\n",
		"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", ":x\r\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &respConn{r: bufio.NewReaderSize(bytes.NewReader(data), 16<<10)}
		v, err := c.read(0)
		if err != nil {
			return
		}
		if d := respDepth(v); d > respMaxDepth {
			t.Fatalf("%q: a reply %d deep", data, d)
		}
		again := respEncode(v)
		c = &respConn{r: bufio.NewReaderSize(bytes.NewReader(again), 16<<10)}
		w, err := c.read(0)
		if err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("%q: read %#v, written back as %q, reads as %#v, %v", data, v, again, w, err)
		}
	})
}

func respDepth(v any) int {
	a, ok := v.([]any)
	if !ok {
		return 0
	}
	d := 0
	for _, x := range a {
		d = max(d, respDepth(x))
	}
	return d + 1
}

// respEncode writes a reply as a server would: strings as bulk strings.
func respEncode(v any) []byte {
	switch x := v.(type) {
	case nil:
		return []byte("$-1\r\n")
	case string:
		return []byte("$" + strconv.Itoa(len(x)) + "\r\n" + x + "\r\n")
	case respError:
		return []byte("-" + string(x) + "\r\n")
	case int64:
		return []byte(":" + strconv.FormatInt(x, 10) + "\r\n")
	case []any:
		out := []byte("*" + strconv.Itoa(len(x)) + "\r\n")
		for _, e := range x {
			out = append(out, respEncode(e)...)
		}
		return out
	}
	panic("unknown reply type")
}

// TestRESPAllocatesWhatArrives: a reply that claims more than it sends
// costs memory for what it sends, not for what it claims.
func TestRESPAllocatesWhatArrives(t *testing.T) {
	for _, s := range []string{
		"$16777216\r\nabc",
		strings.Repeat("*65536\r\n", respMaxDepth) + ":1\r\n",
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := &respConn{r: bufio.NewReaderSize(bytes.NewReader([]byte(s)), 16<<10)}
		if _, err := c.read(0); err == nil {
			t.Fatalf("%.20q: read whole", s)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%.20q: %d bytes allocated for %d received", s, n, len(s))
		}
	}
}
