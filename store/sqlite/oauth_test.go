package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/oauth/oauthtest"
	"github.com/obhub/obhub/store/sqlite"
)

func TestOAuthStoreConformance(t *testing.T) {
	oauthtest.Run(t, func(t *testing.T) oauth.Store { return openOAuthStore(t) })
}

func TestOAuthPorterConformance(t *testing.T) {
	oauthtest.RunPorter(t, func(t *testing.T) oauthtest.PorterStore { return openOAuthStore(t) })
}

func TestOAuthStoreClosed(t *testing.T) {
	s := sqlite.NewOAuthStore(filepath.Join(t.TempDir(), "oauth.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := s.GetCode(context.Background(), "x"); err == nil {
		t.Fatal("GetCode on a closed store succeeded")
	}
}
