package probe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
)

// respConn speaks just enough of RESP2 for a health probe: commands are
// arrays of bulk strings, and replies are read whole. A client library would
// bring a global logger, dial retries that stretch past a check's timeout and
// handshake commands of its own; a probe needs four commands.
type respConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

// respError is an error reply from the server ("-WRONGPASS …"): the server
// answered, so the connection is still usable.
type respError string

func (e respError) Error() string { return string(e) }

// errNotRedis marks a reply that does not parse as RESP, such as an HTTP
// server's answer: the connection is of no further use.
var errNotRedis = errors.New("not a Redis reply")

// Bounds on what a reply may claim, so that a confused or hostile peer cannot
// make the monitor allocate without limit.
const (
	respMaxBulk  = 16 << 20
	respMaxArray = 1 << 16
	respMaxDepth = 8
	// respChunk is what a reply may allocate before its bytes arrive.
	respChunk = 16 << 10
)

func newRespConn(c net.Conn) *respConn {
	return &respConn{conn: c, r: bufio.NewReaderSize(c, 16<<10), w: bufio.NewWriterSize(c, 512)}
}

// do sends one command and returns its reply: a string for simple and bulk
// strings, int64, nil, []any, or a respError.
func (c *respConn) do(args ...string) (any, error) {
	c.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		c.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n")
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	v, err := c.read(0)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(respError); ok {
		return nil, e
	}
	return v, nil
}

func (c *respConn) read(depth int) (any, error) {
	line, err := c.line()
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, errNotRedis
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return string(body), nil
	case '-':
		return respError(body), nil
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return nil, errNotRedis
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil || n < -1 || n > respMaxBulk {
			return nil, errNotRedis
		}
		if n == -1 {
			return nil, nil
		}
		// Memory grows with what arrives, not with what the length
		// claims: a peer that says 16 MiB and sends 3 bytes costs 3.
		var buf bytes.Buffer
		buf.Grow(min(n+2, respChunk))
		if _, err := io.CopyN(&buf, c.r, int64(n+2)); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return string(buf.Bytes()[:n]), nil
	case '*':
		n, err := strconv.Atoi(string(body))
		if err != nil || n < -1 || n > respMaxArray || depth >= respMaxDepth {
			return nil, errNotRedis
		}
		if n == -1 {
			return nil, nil
		}
		out := make([]any, 0, min(n, respChunk/16))
		for range n {
			v, err := c.read(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %q", errNotRedis, truncate(string(line), 40))
}

// line reads one CRLF-terminated line without its terminator.
func (c *respConn) line() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errNotRedis
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: %q", errNotRedis, truncate(string(line), 40))
	}
	return line[:len(line)-2], nil
}

func (c *respConn) Close() error { return c.conn.Close() }
