package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/etcd"
	"github.com/obhub/obhub/store/sqlite"
)

// `obhub cluster import` moves a stopped single node's data folder into a
// cluster's shared systems (docs/cluster.md, "Moving a single node to a
// cluster"):
//
//   - the configuration store (obhub.db) into etcd, every key byte for
//     byte, with the node's signing keys and OAuth HMAC secret sealed
//     beside it (as the first node of a cluster offers them), so that
//     credentials and tokens issued before the move stay valid;
//   - with --db, the portal's and the console's accounts into PostgreSQL
//     (import_db.go), then the authorization server's tokens, revoked
//     grants and client registrations (import_oauth.go).
//
// Every target is checked before anything is written: etcd must hold no
// configuration, PostgreSQL no accounts and no OAuth state. The
// configuration goes into etcd in transactions of at most importMaxOps
// keys; the first one also writes importMarkerKey, the last one removes
// it. A node refuses to start while
// the marker is there, and running the command again finishes an import
// that stopped half-way (a key already there must hold the same bytes).

// importMarkerKey marks an import into etcd that has not finished. It is
// outside config.ConfigPrefix: no snapshot sees it.
const importMarkerKey = config.Root + "import/incomplete"

// Limits of one etcd transaction of the import: under etcd's default
// --max-txn-ops (128) and --max-request-bytes (1.5 MiB), so the import
// works on an etcd with default settings unless one value (an OpenAPI
// document) is larger, which needs the raised limit in any case and goes
// alone.
const (
	importMaxOps   = 100
	importMaxBytes = 1 << 20
)

// clusterCommand runs `obhub cluster import`.
func clusterCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	const use = "usage: obhub cluster import --data DIR --etcd URLS [--db postgres://…] [--dry-run]\n"
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, use)
		return nil
	}
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprint(stderr, use)
		return errors.New("cluster: want import")
	}
	fs := flag.NewFlagSet("cluster import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var imp importer
	imp.data = getenv("OBHUB_DATA")
	if imp.data == "" {
		imp.data = "./obhub-data"
	}
	fs.StringVar(&imp.data, "data", imp.data, "data folder of the stopped single node (env OBHUB_DATA)")
	imp.etcd = getenv("OBHUB_ETCD")
	fs.StringVar(&imp.etcd, "etcd", imp.etcd, "the cluster's etcd endpoints, comma separated (env OBHUB_ETCD)")
	imp.db = getenv("OBHUB_DB")
	fs.StringVar(&imp.db, "db", imp.db, "the cluster's postgres:// URL (env OBHUB_DB); without it only the configuration moves")
	kekFile := getenv("OBHUB_KEY_ENCRYPTION_KEY_FILE")
	fs.StringVar(&kekFile, "key-encryption-key-file", kekFile, "file holding the cluster's key-encryption key (instead of OBHUB_KEY_ENCRYPTION_KEY; env OBHUB_KEY_ENCRYPTION_KEY_FILE)")
	fs.BoolVar(&imp.dryRun, "dry-run", false, "check the targets and print what would be copied; change nothing")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("cluster import: unexpected argument %q", fs.Arg(0))
	}
	if imp.etcd == "" {
		return errors.New("cluster import: --etcd is required (the cluster's etcd endpoints)")
	}
	kek, err := config.CommandKEK(getenv(config.KeyEncryptionKeyEnv), kekFile)
	if err != nil {
		return fmt.Errorf("cluster import: %w", err)
	}
	if kek == nil {
		return fmt.Errorf("cluster import: %s is not set: the cluster's key-encryption key seals the signing keys in etcd (the same on every node)",
			config.KeyEncryptionKeyEnv)
	}
	imp.kek = kek
	imp.out = stdout
	if err := imp.run(ctx); err != nil {
		return fmt.Errorf("cluster import: %w", err)
	}
	return nil
}

// importer holds one run of `obhub cluster import`.
type importer struct {
	data, etcd, db string
	dryRun         bool
	kek            []byte
	out            io.Writer

	// What the data folder holds, read before any target is touched.
	config  config.Listing // every key of obhub.db
	secrets []config.Op    // the sealed key files, for etcd
	resume  bool           // etcd holds an import that stopped half-way
	present map[string][]byte
	accts   *accountsCopy // import_db.go; nil without --db
	oauth   *oauthCopy    // import_oauth.go; nil without --db
}

// run checks the source and every target, then copies (or, dry, says
// what it would copy).
func (imp *importer) run(ctx context.Context) error {
	// The source: a stopped node's data folder. Opening its configuration
	// store takes the node's lock, held until the end, so the node cannot
	// start (and change the folder) during the import.
	dbPath := filepath.Join(imp.data, "obhub.db")
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("data folder %s: no configuration store (obhub.db): %w", imp.data, err)
	}
	src := sqlite.New(dbPath)
	defer src.Close()
	if err := src.Open(ctx); err != nil {
		if errors.Is(err, sqlite.ErrLocked) {
			return fmt.Errorf("data folder %s is in use: stop the node first (%w)", imp.data, err)
		}
		return err
	}
	var err error
	if imp.config, err = src.List(ctx, ""); err != nil {
		return fmt.Errorf("read the configuration: %w", err)
	}
	// Sealed values in the configuration (banks' OpenID client secrets)
	// must open with the cluster's key-encryption key, or no node could.
	for _, kv := range imp.config.KVs {
		if strings.HasPrefix(kv.Key, config.Root+"secrets/") {
			if _, err := (config.SealedSecret{KV: src, Key: kv.Key, KEK: imp.kek}).Get(ctx); err != nil {
				return fmt.Errorf("%w: give the import (and every node) the single node's %s", err, config.KeyEncryptionKeyEnv)
			}
		}
	}
	if err := imp.readKeys(); err != nil {
		return err
	}

	// The targets, all checked before anything is written.
	kv := etcd.New(etcd.ParseEndpoints(imp.etcd), etcd.Options{ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second})
	defer kv.Close()
	if err := kv.Open(ctx); err != nil {
		return err
	}
	if err := imp.checkEtcd(ctx, kv); err != nil {
		return err
	}
	if imp.db != "" {
		db, err := openImportDB(ctx, imp.db)
		if err != nil {
			return err
		}
		defer db.Close()
		if imp.accts, err = readAccounts(ctx, imp.data, db); err != nil {
			return err
		}
		if imp.oauth, err = readOAuth(ctx, imp.data, db, time.Now()); err != nil {
			return err
		}
	}

	imp.report()
	if imp.dryRun {
		fmt.Fprintln(imp.out, "dry run: nothing was written")
		return nil
	}
	n, err := imp.copyConfig(ctx, kv)
	if err != nil {
		return fmt.Errorf("%w\n%d keys are in etcd, marked incomplete (%s): nodes refuse to start on it. "+
			"Run the same command again to finish the import", err, n, importMarkerKey)
	}
	fmt.Fprintf(imp.out, "configuration: %d keys and %d key files written to etcd\n", n, len(imp.secrets))
	if imp.accts != nil {
		if err := imp.accts.copy(ctx, imp.out); err != nil {
			return fmt.Errorf("%w\nThe OAuth state was not copied", err)
		}
		if err := imp.oauth.copy(ctx, imp.out); err != nil {
			return fmt.Errorf("OAuth state: %w\nThe configuration is in etcd and the accounts are in PostgreSQL; of the OAuth state "+
				"nothing was written (one transaction). The cluster works without it: customers of authorization-code apps consent again "+
				"and the registration access tokens of dynamically registered clients no longer work. To move it as well, empty etcd (%s) and PostgreSQL and run the same command again", err, config.Root)
		}
	} else {
		fmt.Fprintln(imp.out, "accounts and OAuth state: not copied (no --db): portal developers and console operators sign up again, customers consent again")
	}
	fmt.Fprintln(imp.out, "done: start the cluster's nodes with fresh data folders; keep this data folder (its audit.db is the archive of the time before the move)")
	return nil
}

// readKeys reads the node's signing key set, OAuth HMAC secret and
// relying-party key set, and seals them for etcd as a cluster's first
// node does (shareKeyFile). A
// file sealed at rest must open with the cluster's key-encryption key:
// every node will open the copy it gets from etcd with it.
func (imp *importer) readKeys() error {
	dir := filepath.Join(imp.data, "keys")
	files := []struct {
		name, key string
		open      func(b, kek []byte) ([]byte, error)
	}{
		{oauth.KeyFile, config.SigningKeyKey, oauth.OpenKeySetFile},
		{oauth.SecretFile, config.HMACSecretKey, oauth.OpenSecretFile},
		// The relying-party keys (bankoidc.go): the banks' providers
		// registered their public half for private_key_jwt.
		{filepath.Join("rp", oauth.KeyFile), config.RPSigningKeyKey, oauth.OpenKeySetFile},
	}
	for _, f := range files {
		if imp.has(f.key) {
			continue // the store holds it already (copied as it is)
		}
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if errors.Is(err, os.ErrNotExist) {
			continue // never made: the first node makes one
		}
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		if _, err := f.open(b, imp.kek); err != nil {
			return fmt.Errorf("keys/%s does not open with the given %s (%v): give the import the single node's key-encryption key",
				f.name, config.KeyEncryptionKeyEnv, err)
		}
		op, err := config.SealedSecret{Key: f.key, KEK: imp.kek}.PutOp(b)
		if err != nil {
			return fmt.Errorf("keys/%s: %w", f.name, err)
		}
		op.Expect = config.Absent
		imp.secrets = append(imp.secrets, op)
	}
	return nil
}

// has reports whether the configuration store holds key.
func (imp *importer) has(key string) bool {
	for _, kv := range imp.config.KVs {
		if kv.Key == key {
			return true
		}
	}
	return false
}

// checkEtcd refuses an etcd that holds configuration already, unless it
// is this import's own, stopped half-way.
func (imp *importer) checkEtcd(ctx context.Context, kv *etcd.KV) error {
	l, err := kv.List(ctx, config.Root)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	if len(l.KVs) == 0 {
		return nil
	}
	imp.present = make(map[string][]byte, len(l.KVs))
	for _, kv := range l.KVs {
		imp.present[kv.Key] = kv.Value
	}
	if _, ok := imp.present[importMarkerKey]; !ok {
		return obhub.Errorf(obhub.ECONFLICT, "etcd already holds a configuration (%d keys under %s): "+
			"the import only fills an empty cluster; merging alliances is not its job", len(l.KVs), config.Root)
	}
	// An import stopped half-way: what is there must be this folder's.
	src := make(map[string][]byte, len(imp.config.KVs))
	for _, kv := range imp.config.KVs {
		src[kv.Key] = kv.Value
	}
	sealed := make(map[string]bool, len(imp.secrets)) // sealed anew each run: compared opened
	for _, op := range imp.secrets {
		sealed[op.Key] = true
	}
	for key, v := range imp.present {
		want, ok := src[key]
		switch {
		case key == importMarkerKey:
		case sealed[key]:
			if err := imp.sameSecret(ctx, kv, key); err != nil {
				return err
			}
		case !ok:
			return obhub.Errorf(obhub.ECONFLICT, "etcd holds an unfinished import with key %s, which this data folder lacks: "+
				"it is another folder's import", key)
		case !bytes.Equal(want, v):
			return obhub.Errorf(obhub.ECONFLICT, "etcd holds an unfinished import whose key %s differs from this data folder's: "+
				"it is another folder's import", key)
		}
	}
	imp.resume = true
	return nil
}

// sameSecret checks that the sealed key file at key in etcd is this
// folder's.
func (imp *importer) sameSecret(ctx context.Context, kv *etcd.KV, key string) error {
	got, err := config.SealedSecret{KV: kv, Key: key, KEK: imp.kek}.Get(ctx)
	if err != nil {
		return err
	}
	for _, op := range imp.secrets {
		if op.Key != key {
			continue
		}
		mine, err := config.SealedSecret{KV: constKV{key: key, value: op.Value}, Key: key, KEK: imp.kek}.Get(ctx)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, mine) {
			return obhub.Errorf(obhub.ECONFLICT, "etcd holds an unfinished import whose %s is not this data folder's", key)
		}
	}
	return nil
}

// constKV is a config.KV of one key, to open a sealed value not stored.
type constKV struct {
	config.KV
	key   string
	value []byte
}

func (c constKV) Get(_ context.Context, key string) (config.KeyValue, error) {
	if key != c.key {
		return config.KeyValue{}, obhub.Errorf(obhub.ENOTFOUND, "key %q not found", key)
	}
	return config.KeyValue{Key: key, Value: c.value}, nil
}

// report prints what the import copies, by kind.
func (imp *importer) report() {
	kinds := []struct{ name, prefix string }{
		{"banks", config.BanksPrefix},
		{"apis", config.APIsPrefix},
		{"api documents", config.SpecPrefix},
		{"products", config.ProductsPrefix},
		{"partners", config.PartnersPrefix},
		{"apps", config.AppsPrefix},
		{"subscriptions", config.SubscriptionsPrefix},
	}
	counts := make([]int, len(kinds))
	var size int
	for _, kv := range imp.config.KVs {
		size += len(kv.Value)
		for i, k := range kinds {
			if strings.HasPrefix(kv.Key, k.prefix) {
				counts[i]++
			}
		}
	}
	fmt.Fprintf(imp.out, "configuration (%s → etcd): %d keys, %d bytes\n", filepath.Join(imp.data, "obhub.db"), len(imp.config.KVs), size)
	for i, k := range kinds {
		fmt.Fprintf(imp.out, "  %-14s %d\n", k.name, counts[i])
	}
	admin := 0
	for _, kv := range imp.config.KVs {
		if kv.Key == config.AdminTokenKey {
			admin = 1
		}
	}
	fmt.Fprintf(imp.out, "  %-14s %d\n", "admin token", admin)
	fmt.Fprintf(imp.out, "  %-14s %d (signing keys, OAuth HMAC secret, relying-party keys; sealed with the key-encryption key)\n", "key files", len(imp.secrets))
	if imp.resume {
		fmt.Fprintf(imp.out, "etcd holds %d keys of an unfinished import of this folder: the rest will be written\n", len(imp.present)-1)
	}
	if imp.accts != nil {
		imp.accts.report(imp.out)
	}
	if imp.oauth != nil {
		imp.oauth.report(imp.out)
	}
}

// copyConfig writes the configuration and the key files into etcd and
// returns how many configuration keys etcd holds when it stops.
func (imp *importer) copyConfig(ctx context.Context, kv *etcd.KV) (int, error) {
	marker, err := json.Marshal(map[string]any{"source": imp.data, "keys": len(imp.config.KVs), "started": time.Now().UTC()})
	if err != nil {
		return 0, err
	}
	var ops []config.Op
	done := 0
	if imp.resume {
		for _, op := range imp.secrets {
			if _, ok := imp.present[op.Key]; !ok {
				ops = append(ops, op)
			}
		}
	} else {
		// The first transaction holds the marker and the key files: a node
		// started too early refuses, and never offers keys of its own.
		ops = append(ops, config.Put(importMarkerKey, marker, config.Absent))
		ops = append(ops, imp.secrets...)
	}
	size := 0
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		if _, err := kv.Txn(ctx, ops...); err != nil {
			return err
		}
		for _, op := range ops {
			if op.Key != importMarkerKey && !slices.ContainsFunc(imp.secrets, func(s config.Op) bool { return s.Key == op.Key }) {
				done++
			}
		}
		ops, size = ops[:0], 0
		return nil
	}
	for _, c := range imp.config.KVs {
		if _, ok := imp.present[c.Key]; ok {
			done++ // there from the run that stopped (checked equal)
			continue
		}
		if len(ops) > 0 && (len(ops) >= importMaxOps || size+len(c.Value) > importMaxBytes) {
			if err := flush(); err != nil {
				return done, err
			}
		}
		ops = append(ops, config.Put(c.Key, c.Value, config.Absent))
		size += len(c.Key) + len(c.Value)
	}
	if err := flush(); err != nil {
		return done, err
	}
	if _, err := kv.Txn(ctx, config.Delete(importMarkerKey, config.Any)); err != nil {
		return done, err
	}
	return done, nil
}
