// Command obhub runs the open banking hub: gateway, OAuth2 server, admin
// API and the alliance's configuration, in one binary.
//
//	obhub serve [--demo] [flags]   run a node
//	obhub apply -f alliance.yaml   apply a declaration through the admin API
//	obhub cluster import [flags]   move a single node's data into a cluster
//	obhub version                  print the version
//
// This package is the only place that chooses implementations and wires
// them together; see Main.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/obhub/obhub"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling: a second
		// SIGTERM or Ctrl-C during the drain ends the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr, getenv)
	case "apply":
		err = apply(ctx, args[1:], stdout, stderr, getenv)
	case "audit":
		err = auditCommand(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		err = keysCommand(ctx, args[1:], stdout, stderr, getenv)
	case "cluster":
		err = clusterCommand(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version":
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprint(stdout, "Usage:\n  obhub version    print the version\n")
			return 0
		}
		fmt.Fprintln(stdout, "obhub", versionString())
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "obhub: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(stderr, "obhub:", cliMessage(err))
		return 1
	}
}

// isHelp reports whether arg asks a command for its usage: help, -h,
// -help or --help.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// cliMessage is err for a person at a terminal: an *obhub.Error's own
// "obhub: conflict: " prefix is dropped, as the line already starts with
// "obhub:" and the code means nothing there.
func cliMessage(err error) string {
	s := err.Error()
	var e *obhub.Error
	if errors.As(err, &e) {
		s = strings.Replace(s, "obhub: "+e.Code+": ", "", 1)
	}
	return s
}

func usage(w io.Writer) {
	fmt.Fprint(w, `obhub — open banking hub for alliances of rural banks

Usage:
  obhub serve [--demo] [flags]      run a node (obhub serve -h for flags)
  obhub apply -f alliance.yaml      apply a declaration through the admin API
  obhub audit verify|export|report check, export or summarise the audit log
  obhub keys rotate|withdraw|list   rotate, withdraw (a leaked one) or list the OAuth signing keys
  obhub cluster import              move a stopped single node's data folder into a cluster's etcd and PostgreSQL
  obhub version                     print the version
`)
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// serve runs a node until ctx ends (SIGINT/SIGTERM), then drains.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	m := NewMain()
	m.Stdout = stdout
	if err := m.ParseFlags(args, getenv, stderr); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	<-ctx.Done()
	m.Logger.Info("shutting down: draining in-flight requests")
	return m.Close()
}
