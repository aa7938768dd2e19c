package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/obhub/obhub"
)

// LastKnownFile is the name of the last-known-good configuration copy in
// a node's data folder.
const LastKnownFile = "config-snapshot.json"

// lastKnownFormat names the file's format in its header line.
const lastKnownFormat = "obhub-config-snapshot/1"

// LastKnown is a node's last-known-good copy of the configuration on
// disk: every key under ConfigPrefix at one revision. A Watcher that keeps
// one writes it after every snapshot it builds from the store; a node
// that starts while the store (etcd) is unreachable loads it and serves
// that configuration until the store answers again.
//
// The file is a header line — {"format","sha256","size"} — followed by the
// payload, a JSON object {"revision","kvs"}; the header's SHA-256 covers
// the payload bytes. It is written to a temporary file, synced and renamed
// into place, so a crash leaves the old copy or the new one, and a copy
// that does not match its checksum is refused. It holds what the
// configuration holds (credential hashes, never secrets in clear) and is
// readable by the node's user only.
type LastKnown struct {
	path string
}

// NewLastKnown returns the copy kept at path. It does no I/O.
func NewLastKnown(path string) *LastKnown { return &LastKnown{path: path} }

// Path returns the file's path.
func (l *LastKnown) Path() string { return l.path }

type lastKnownHeader struct {
	Format string `json:"format"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

type lastKnownPayload struct {
	Revision int64          `json:"revision"`
	KVs      []lastKnownKey `json:"kvs"`
}

type lastKnownKey struct {
	Key    string `json:"key"`
	Value  []byte `json:"value"`
	Create int64  `json:"create"`
	Mod    int64  `json:"mod"`
}

// Save writes l: the keys of state at revision rev.
func (l *LastKnown) Save(rev int64, state map[string]KeyValue) error {
	p := lastKnownPayload{Revision: rev, KVs: make([]lastKnownKey, 0, len(state))}
	for _, kv := range state {
		p.KVs = append(p.KVs, lastKnownKey{Key: kv.Key, Value: kv.Value, Create: kv.CreateRevision, Mod: kv.ModRevision})
	}
	slices.SortFunc(p.KVs, func(a, b lastKnownKey) int { return strings.Compare(a.Key, b.Key) })
	payload, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("last-known configuration: %w", err)
	}
	sum := sha256.Sum256(payload)
	header, err := json.Marshal(lastKnownHeader{Format: lastKnownFormat, SHA256: hex.EncodeToString(sum[:]), Size: len(payload)})
	if err != nil {
		return fmt.Errorf("last-known configuration: %w", err)
	}
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(l.path)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("last-known configuration: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(append(append(header, '\n'), payload...))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), l.path)
	}
	if err != nil {
		return fmt.Errorf("last-known configuration: write %s: %w", l.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Load reads and verifies l. A missing file is ENOTFOUND; a file that is
// damaged or does not match its checksum is EINVALID.
func (l *LastKnown) Load() (Listing, error) {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Listing{}, obhub.Errorf(obhub.ENOTFOUND, "no last-known configuration at %s", l.path)
	}
	if err != nil {
		return Listing{}, fmt.Errorf("last-known configuration: %w", err)
	}
	corrupt := func(why string) (Listing, error) {
		return Listing{}, obhub.Errorf(obhub.EINVALID, "last-known configuration %s is corrupt (%s); ignored", l.path, why)
	}
	line, payload, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return corrupt("no header")
	}
	var h lastKnownHeader
	if err := json.Unmarshal(line, &h); err != nil || h.Format != lastKnownFormat {
		return corrupt("unknown header")
	}
	sum := sha256.Sum256(payload)
	if h.Size != len(payload) || h.SHA256 != hex.EncodeToString(sum[:]) {
		return corrupt("checksum mismatch")
	}
	var p lastKnownPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return corrupt("payload does not decode")
	}
	out := Listing{Revision: p.Revision, KVs: make([]KeyValue, 0, len(p.KVs))}
	for _, kv := range p.KVs {
		if !strings.HasPrefix(kv.Key, ConfigPrefix) {
			return corrupt("a key outside the configuration")
		}
		out.KVs = append(out.KVs, KeyValue{Key: kv.Key, Value: kv.Value, CreateRevision: kv.Create, ModRevision: kv.Mod})
	}
	return out, nil
}

// KeepLastKnown makes w write l after every snapshot it builds from the
// store. Call it before Load.
func (w *Watcher) KeepLastKnown(l *LastKnown) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastKnown = l
}

// LoadLastKnown publishes the snapshot of the last-known-good copy, for a
// node that cannot reach the store at start. Run then follows the store
// from that copy's revision once the store answers. It returns the copy's
// revision.
func (w *Watcher) LoadLastKnown() (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastKnown == nil {
		return 0, errors.New("no last-known configuration kept")
	}
	l, err := w.lastKnown.Load()
	if err != nil {
		return 0, err
	}
	w.state = make(map[string]KeyValue, len(l.KVs))
	for _, kv := range l.KVs {
		w.state[kv.Key] = kv
	}
	w.rev = l.Revision
	w.savedRev = l.Revision // already on disk
	w.publishLocked()
	return l.Revision, nil
}

// saveLastKnownLocked writes the copy after a snapshot swap, unless it
// already holds this revision. A failure is logged: the node serves on,
// with an older copy on disk.
func (w *Watcher) saveLastKnownLocked() {
	if w.lastKnown == nil || w.savedRev == w.rev {
		return
	}
	if err := w.lastKnown.Save(w.rev, w.state); err != nil {
		w.logger.Error("could not save the last-known-good configuration", "err", err)
		return
	}
	w.savedRev = w.rev
}

// API documents. Request validation and the sandbox read each API's
// document (under SpecPrefix) from the store when they first need it. So
// that a node started while the store is unreachable can still validate,
// a Watcher that keeps a LastKnown also keeps every document in a folder
// beside the copy — written at each listing and on each change it sees —
// and LastKnownKV answers document reads from there while the store is
// unreachable. The documents are gzip, whose CRC catches damage.

// documentsDir is the folder of the documents' copies.
func (l *LastKnown) documentsDir() string {
	return filepath.Join(filepath.Dir(l.path), "config-documents")
}

func (l *LastKnown) documentPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(l.documentsDir(), hex.EncodeToString(sum[:16]))
}

// SaveDocument keeps value as the copy of the document at key.
func (l *LastKnown) SaveDocument(key string, value []byte) error {
	path := l.documentPath(key)
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, value) {
		return nil
	}
	if err := os.MkdirAll(l.documentsDir(), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(l.documentsDir(), ".doc-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(value)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}

// DeleteDocument drops the copy of the document at key.
func (l *LastKnown) DeleteDocument(key string) error {
	if err := os.Remove(l.documentPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// LoadDocument returns the copy of the document at key, or ENOTFOUND.
func (l *LastKnown) LoadDocument(key string) ([]byte, error) {
	b, err := os.ReadFile(l.documentPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "no copy of %s", key)
	}
	return b, err
}

// saveDocuments copies every document of the store, and drops the copies
// of documents the store no longer has. Load calls it when w keeps a
// LastKnown.
func (w *Watcher) saveDocuments(ctx context.Context) error {
	w.mu.Lock()
	lk := w.lastKnown
	w.mu.Unlock()
	if lk == nil {
		return nil
	}
	l, err := w.kv.List(ctx, SpecPrefix)
	if err != nil {
		return fmt.Errorf("list API documents: %w", err)
	}
	keep := make(map[string]bool, len(l.KVs))
	for _, kv := range l.KVs {
		keep[filepath.Base(lk.documentPath(kv.Key))] = true
		if err := lk.SaveDocument(kv.Key, kv.Value); err != nil {
			w.logger.Error("could not keep a copy of an API document", "key", kv.Key, "err", err)
		}
	}
	entries, _ := os.ReadDir(lk.documentsDir())
	for _, e := range entries {
		if !keep[e.Name()] {
			_ = os.Remove(filepath.Join(lk.documentsDir(), e.Name()))
		}
	}
	return nil
}

// documentEventLocked keeps the copies in step with a watch event.
func (w *Watcher) documentEventLocked(ev Event) {
	if w.lastKnown == nil || !strings.HasPrefix(ev.KV.Key, SpecPrefix) {
		return
	}
	var err error
	if ev.Type == EventDelete {
		err = w.lastKnown.DeleteDocument(ev.KV.Key)
	} else {
		err = w.lastKnown.SaveDocument(ev.KV.Key, ev.KV.Value)
	}
	if err != nil {
		w.logger.Error("could not keep a copy of an API document", "key", ev.KV.Key, "err", err)
	}
}

// LastKnownKV answers reads from the node's copies while the store is
// unreachable (EUNAVAILABLE): configuration objects from the Watcher's
// snapshot state, API documents from their copies on disk. Everything
// else, and every write, goes to the store.
type LastKnownKV struct {
	KV
	LastKnown *LastKnown
	Watcher   *Watcher
}

// Get reads key from the store, or from the node's copy while the store
// is unreachable.
func (k LastKnownKV) Get(ctx context.Context, key string) (KeyValue, error) {
	got, err := k.KV.Get(ctx, key)
	if obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		return got, err
	}
	switch {
	case strings.HasPrefix(key, ConfigPrefix) && k.Watcher != nil:
		k.Watcher.mu.Lock()
		kv, ok := k.Watcher.state[key]
		k.Watcher.mu.Unlock()
		if ok {
			kv.Value = bytes.Clone(kv.Value)
			return kv, nil
		}
	case strings.HasPrefix(key, SpecPrefix) && k.LastKnown != nil:
		if b, lerr := k.LastKnown.LoadDocument(key); lerr == nil {
			return KeyValue{Key: key, Value: b}, nil
		}
	}
	return got, err
}
