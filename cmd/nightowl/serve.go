package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nightowl/nightowl/app"
)

func cmdServe(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	listen := fs.String("listen", "", "listen address, overriding server.listen")
	debug := fs.Bool("debug", false, "log at debug level")
	return func(ctx context.Context, args []string) int {
		if _, err := parse(fs, args); err != nil {
			return exitBadConfig
		}
		// Until the config is read, and where it cannot be, the log is text
		// at the default level; then it is what server.log says.
		level := slog.LevelInfo
		if *debug {
			level = slog.LevelDebug
		}
		log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
		opts := app.Options{ConfigPath: cfgPath(), LogOutput: e.stderr, Debug: *debug, Listen: *listen}
		if path := e.getenv(testClockEnv); path != "" {
			clock, err := newOffsetClock(path)
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl:", err)
				return exitBadConfig
			}
			log.Warn("the wall clock is moved by a test file", "env", testClockEnv, "file", path)
			opts.Clock = clock
		}
		a, err := app.New(ctx, opts)
		if err != nil {
			printConfigError(e, err)
			return exitBadConfig
		}
		log = a.Logger()
		if err := a.Start(ctx); err != nil {
			fmt.Fprintln(e.stderr, "nightowl:", err)
			a.Stop(context.Background())
			return exitNotUp
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				// Reload logs its own outcome; a refused config changes nothing.
				a.Reload(ctx)
			case err := <-a.Failed():
				// The API and the ping endpoint are gone: a process that went
				// on running checks unseen would look alive to its
				// supervisor, which should restart it instead.
				fmt.Fprintln(e.stderr, "nightowl: the server stopped serving:", err)
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := a.Stop(sctx); err != nil {
					log.Error("shutdown", "err", err)
				}
				return exitNotUp
			case <-ctx.Done():
				log.Info("shutting down")
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := a.Stop(sctx); err != nil {
					log.Error("shutdown", "err", err)
					return exitNotUp
				}
				return exitOK
			}
		}
	}
}
