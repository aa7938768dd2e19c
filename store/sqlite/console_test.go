package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/console/consoletest"
	"github.com/obhub/obhub/store/sqlite"
)

// openConsole opens a console store in a fresh file, closed at cleanup.
func openConsole(t *testing.T) *sqlite.ConsoleStore {
	s := sqlite.NewConsoleStore(filepath.Join(t.TempDir(), "console.db"))
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConsoleStoreConformance(t *testing.T) {
	consoletest.Run(t, func(t *testing.T) console.Store { return openConsole(t) })
}

func TestConsoleDirectoryConformance(t *testing.T) {
	consoletest.RunDirectory(t, func(t *testing.T) consoletest.DirectoryStore { return openConsole(t) })
}

func TestConsolePorterConformance(t *testing.T) {
	consoletest.RunPorter(t, func(t *testing.T) consoletest.PorterStore { return openConsole(t) })
}
