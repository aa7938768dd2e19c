package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/oauth/oauthtest"
	"github.com/obhub/obhub/store/sqlite"
)

func TestRegistrationStoreConformance(t *testing.T) {
	oauthtest.RunRegistration(t, func(t *testing.T) oauth.RegistrationStore { return openOAuthStore(t) })
}

// openOAuthStore opens an OAuth store in a fresh folder, closed at the
// end of the test.
func openOAuthStore(t *testing.T) *sqlite.OAuthStore {
	t.Helper()
	s := sqlite.NewOAuthStore(filepath.Join(t.TempDir(), "oauth.db"))
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
