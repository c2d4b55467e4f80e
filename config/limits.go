package config

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Untrusted input is bounded before it is read: a config file may be at
// most MaxFileSize bytes, and may grow to at most MaxNodes YAML nodes once
// its aliases (*name) and merge keys (<<) are expanded. A file of a few
// hundred bytes whose anchors each repeat the one before ten times would
// otherwise expand to billions of nodes and keep the decoder busy for days.
const (
	MaxFileSize = 4 << 20
	MaxNodes    = 1_000_000
)

// LoadContext is Load, given up when ctx ends: a config that takes too
// long to read (a file on a hung network share) does not hold up whoever
// waits for it. The config file and the files it names must be regular
// files: a FIFO or a device is refused unread.
func LoadContext(ctx context.Context, path string, opts Options) (*Config, error) {
	type result struct {
		cfg *Config
		err error
	}
	done := make(chan result, 1)
	// The goroutine ends when the read does; nothing waits for it after
	// ctx ends, and it holds nothing but the file.
	go func() {
		cfg, err := load(ctx, path, opts)
		done <- result{cfg, err}
	}()
	select {
	case r := <-done:
		return r.cfg, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("load config %s: %w", path, ctx.Err())
	}
}

func load(ctx context.Context, path string, opts Options) (*Config, error) {
	read := opts.ReadFile
	if read == nil {
		read = readLimited
	}
	data, err := read(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(ctx, path, data, opts)
}

// readLimited reads a regular file, but no more than MaxFileSize and one
// byte. Anything else (a FIFO, a device, a socket) is refused before it is
// read: a read of one can wait for ever, and a reload would leave a
// goroutine behind waiting on it. The file is opened without blocking (a
// FIFO's open waits for a writer) and checked once open, so that the path
// cannot change in between.
func readLimited(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): refused unread", path, fileKind(fi.Mode()))
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "not a plain file"
}
