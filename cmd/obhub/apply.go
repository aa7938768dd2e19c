package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/obhub/obhub/admin"
)

// apply runs `obhub apply -f FILE`: it applies a declaration through a
// running node's admin API, idempotently, and prints what changed.
func apply(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "declaration file (YAML), e.g. alliance.yaml")
	adminURL := fs.String("admin-url", envOr(getenv, "OBHUB_ADMIN_URL", "http://127.0.0.1:8081"), "admin listener URL (env OBHUB_ADMIN_URL)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("apply: give exactly one file with -f")
	}
	token := getenv("OBHUB_ADMIN_TOKEN")
	if token == "" {
		return errors.New("apply: set OBHUB_ADMIN_TOKEN to the admin token")
	}
	decl, err := admin.LoadDeclaration(*file)
	if err != nil {
		return err
	}
	if err := decl.ResolveSecrets(getenv); err != nil { // banks' OIDC client secrets
		return fmt.Errorf("apply %s: %w", *file, err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := &admin.Client{BaseURL: strings.TrimSuffix(*adminURL, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
	rep, err := admin.Apply(ctx, c, decl)
	if perr := rep.Print(stdout); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("apply %s: %w", *file, err)
	}
	if !rep.Changed() {
		fmt.Fprintln(stdout, "nothing to change")
	}
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
