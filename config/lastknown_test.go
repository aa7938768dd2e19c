package config_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
)

// TestLastKnownServesTheLastConfiguration: a watcher that keeps a copy
// writes it after each change; a second node (another watcher, with no
// store to read) loads that copy and serves the same banks, then follows
// the store from the copy's revision once it reads again.
func TestLastKnownServesTheLastConfiguration(t *testing.T) {
	kv := openSQLite(t)
	path := filepath.Join(t.TempDir(), config.LastKnownFile)
	putBank(t, kv, "alpha", "Alpha Rural Bank")

	var h1 config.Holder
	w1 := config.NewWatcher(kv, &h1, nil)
	w1.KeepLastKnown(config.NewLastKnown(path))
	if err := w1.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	runWatcher(t, w1)
	rev := putBank(t, kv, "beta", "Beta Village Bank")
	waitFor(t, w1, rev)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no last-known copy written: %v", err)
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		t.Errorf("last-known copy has mode %v, want it private to the node's user", mode)
	}

	var h2 config.Holder
	w2 := config.NewWatcher(kv, &h2, nil)
	w2.KeepLastKnown(config.NewLastKnown(path))
	got, err := w2.LoadLastKnown()
	if err != nil {
		t.Fatalf("LoadLastKnown: %v", err)
	}
	if got != rev {
		t.Errorf("last-known revision = %d, want %d", got, rev)
	}
	wantBanks(t, h2.Current(), "alpha", "beta")

	// The store answers again: the second node catches up from there.
	runWatcher(t, w2)
	rev = putBank(t, kv, "gamma", "Gamma Credit Union")
	waitFor(t, w2, rev)
	wantBanks(t, h2.Current(), "alpha", "beta", "gamma")
}

func TestLastKnownRefusesADamagedCopy(t *testing.T) {
	dir := t.TempDir()
	good := config.NewLastKnown(filepath.Join(dir, "good.json"))
	state := map[string]config.KeyValue{
		config.BanksPrefix + "alpha": {Key: config.BanksPrefix + "alpha", Value: bankJSON(t, "alpha", "Alpha"), CreateRevision: 3, ModRevision: 3},
	}
	if err := good.Save(7, state); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good.Path())
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), b...)
	flipped[len(flipped)-5] ^= 0x01

	tests := []struct {
		name    string
		content []byte
		code    string
	}{
		{"one bit flipped", flipped, obhub.EINVALID},
		{"truncated", b[:len(b)-10], obhub.EINVALID},
		{"empty", nil, obhub.EINVALID},
		{"not ours", []byte("{\"hello\":1}\n{}"), obhub.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.NewLastKnown(path).Load()
			if code := obhub.ErrorCode(err); code != tt.code {
				t.Errorf("Load error %v (code %q), want code %q", err, code, tt.code)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := config.NewLastKnown(filepath.Join(dir, "none")).Load()
		if code := obhub.ErrorCode(err); code != obhub.ENOTFOUND {
			t.Errorf("Load error %v (code %q), want %q", err, code, obhub.ENOTFOUND)
		}
	})
	t.Run("intact", func(t *testing.T) {
		l, err := good.Load()
		if err != nil {
			t.Fatal(err)
		}
		if l.Revision != 7 || len(l.KVs) != 1 || l.KVs[0].ModRevision != 3 || string(l.KVs[0].Value) != string(state[config.BanksPrefix+"alpha"].Value) {
			t.Errorf("Load = %+v, want what was saved", l)
		}
	})
}
