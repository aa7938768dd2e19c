package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/postgres"
	"github.com/obhub/obhub/store/sqlite"
)

// oauthCopy is what `obhub cluster import --db` copies of the
// authorization server's state (oauth.db) into PostgreSQL, through
// oauth.Porter in one transaction: refresh and access tokens that have
// not expired, the revoked grants they belong to, dynamic client
// registrations and initial access tokens (oauth.Dump says what and
// why). Customers of authorization-code apps need not consent again.
type oauthCopy struct {
	db   *postgres.DB
	dump oauth.Dump
}

// readOAuth reads the data folder's OAuth store as of now and checks that
// PostgreSQL holds no OAuth state yet.
func readOAuth(ctx context.Context, data string, db *postgres.DB, now time.Time) (*oauthCopy, error) {
	c := &oauthCopy{db: db}
	if path := filepath.Join(data, "oauth.db"); exists(path) {
		s := sqlite.NewOAuthStore(path)
		defer s.Close()
		if err := s.Open(ctx); err != nil {
			return nil, err
		}
		d, err := s.Export(ctx, now)
		if err != nil {
			return nil, err
		}
		c.dump = d
	}
	// An empty Dump writes nothing: the target's own refusal, checked
	// before anything is written anywhere.
	if err := db.OAuth().Import(ctx, oauth.Dump{}); err != nil {
		return nil, fmt.Errorf("%w: the import only fills an empty cluster", err)
	}
	return c, nil
}

// report prints what would be copied.
func (c *oauthCopy) report(w io.Writer) {
	d := c.dump
	revoked, used := 0, 0
	for _, r := range d.RefreshTokens {
		switch {
		case r.Revoked:
			revoked++
		case r.Used:
			used++
		}
	}
	fmt.Fprintf(w, "OAuth state (→ PostgreSQL %s):\n", c.db.Redacted())
	fmt.Fprintf(w, "  %-14s %d (%d rotated, %d revoked: kept to refuse them)\n", "refresh tokens", len(d.RefreshTokens), used, revoked)
	fmt.Fprintf(w, "  %-14s %d\n", "access tokens", len(d.AccessTokens))
	fmt.Fprintf(w, "  %-14s %d\n", "revoked grants", len(d.RevokedGrants))
	fmt.Fprintf(w, "  %-14s %d\n", "registrations", len(d.Registrations))
	fmt.Fprintf(w, "  %-14s %d\n", "initial tokens", len(d.InitialTokens))
	fmt.Fprintln(w, "not copied: expired tokens, authorization codes, pushed requests and sign-ins under way (minutes-long;")
	fmt.Fprintln(w, "  customers in the middle of one start again), client assertion ids used (expired by the time nodes start)")
}

// copy writes the OAuth state in one transaction.
func (c *oauthCopy) copy(ctx context.Context, w io.Writer) error {
	if err := c.db.OAuth().Import(ctx, c.dump); err != nil {
		return err
	}
	d := c.dump
	fmt.Fprintf(w, "oauth: %d refresh tokens, %d access tokens, %d revoked grants, %d client registrations and %d initial access tokens written to PostgreSQL\n",
		len(d.RefreshTokens), len(d.AccessTokens), len(d.RevokedGrants), len(d.Registrations), len(d.InitialTokens))
	return nil
}
