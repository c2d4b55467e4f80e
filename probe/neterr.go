package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
)

// userAgent names nightowl and its version to the servers it checks.
var userAgent = "nightowl/" + buildVersion()

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "dev"
}

// finish completes a result: the probe succeeded when there is no error
// text, and every result carries its duration, also as a fact.
func finish(r nightowl.Result, start time.Time, errText string) nightowl.Result {
	d := time.Since(start)
	r.Duration = nightowl.Seconds(d)
	r.Facts["duration"] = d.Seconds()
	r.Error = errText
	r.OK = errText == ""
	return r
}

// timedOut reports whether err (or ctx) means the probe ran out of time.
func timedOut(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// timeoutText says how long the probe had: the configured timeout, which is
// what the reader of "timed out after 2s" compares with the config. The
// probe starts a moment after the deadline was set, hence the rounding.
func timeoutText(ctx context.Context, start time.Time) string {
	d := time.Since(start)
	if dl, ok := ctx.Deadline(); ok {
		d = dl.Sub(start)
	}
	if d < time.Second {
		return "timed out after " + d.Round(10*time.Millisecond).String()
	}
	return "timed out after " + d.Round(100*time.Millisecond).String()
}

// reason turns err into a short lower-case phrase without the operation and
// address prefixes Go's errors carry ("dial tcp 127.0.0.1:9: connect: "),
// which the caller replaces with what it was doing.
func reason(ctx context.Context, err error, start time.Time) string {
	canceled := errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled)
	// A name that did not resolve says so however the lookup ended:
	// "timed out" alone sends the reader to the server, not to DNS.
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		why := dnsErr.Err
		switch {
		case timedOut(ctx, err):
			why = timeoutText(ctx, start)
		case canceled:
			why = "canceled"
		}
		return "resolve " + dnsErr.Name + ": " + why
	}
	switch {
	case timedOut(ctx, err):
		return timeoutText(ctx, start)
	case canceled:
		return "canceled"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return verr.Err.Error()
	}
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		return sysErr.Err.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	// net/http's wrapper repeats the method and URL, which may hold
	// credentials.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}

// dialPhase reports whether err happened while connecting (as opposed to
// during a later read or write), so the message can say "connect".
func dialPhase(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Op == "dial"
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// connectError describes a failed dial of addr.
func connectError(ctx context.Context, addr string, err error, start time.Time) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return reason(ctx, err, start)
	}
	return "connect " + addr + ": " + reason(ctx, err, start)
}

// closeOnCancel closes c when ctx is done, so that a blocked read or write
// returns at once on cancellation as well as at the deadline. The returned
// func stops the watch.
func closeOnCancel(ctx context.Context, c io.Closer) func() bool {
	return context.AfterFunc(ctx, func() { c.Close() })
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// daysLeft is the time until t in days, negative once t has passed.
func daysLeft(t time.Time) float64 {
	return time.Until(t).Hours() / 24
}

// setDeadline applies ctx's deadline to a connection so that blocking reads
// and writes honour it.
func setDeadline(ctx context.Context, c net.Conn) {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
}
