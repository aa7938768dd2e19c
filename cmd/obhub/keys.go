package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/etcd"
)

// keysCommand runs `obhub keys rotate|withdraw|list` on a node's data
// folder.
//
// Rotation writes the new key set to <data>/keys/signing-key.pem; a
// running node re-reads that file every oauth.KeyReloadInterval
// (watchKeys), so no restart and no admin route is needed, and the
// private keys never travel over the network. With a key-encryption key
// (OBHUB_KEY_ENCRYPTION_KEY or --key-encryption-key-file) the file is
// read and written sealed, as the node keeps it.
//
// With --etcd (env OBHUB_ETCD) the command works on the cluster's shared
// key set in etcd instead, sealed with the key-encryption key; every
// node copies it to its data folder within the same interval.
//
// With --rp it works on the relying-party key set instead: the keys that
// sign the hub's client assertions (private_key_jwt) at the banks'
// OpenID providers, published at /oauth2/rp-jwks, in <data>/keys/rp/ and
// in etcd under their own name.
func keysCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	const use = "usage: obhub keys rotate [--rp] [--data DIR] [--alg ES256|PS256|EdDSA] [--prepublish 10m] [--token-lifetime 10m]\n" +
		"       obhub keys withdraw KEY-ID [--rp] [--data DIR] [--alg ES256|PS256|EdDSA]\n       obhub keys list [--rp] [--data DIR]\n"
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, use)
		return nil
	}
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "withdraw" && args[0] != "list") {
		fmt.Fprint(stderr, use)
		return errors.New("keys: want rotate, withdraw or list")
	}
	var kid string // withdraw: the key id, before, between or after the flags
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := getenv("OBHUB_DATA")
	if data == "" {
		data = "./obhub-data"
	}
	fs.StringVar(&data, "data", data, "data folder of the node (env OBHUB_DATA)")
	etcdEndpoints := getenv("OBHUB_ETCD")
	fs.StringVar(&etcdEndpoints, "etcd", etcdEndpoints, "the cluster's etcd endpoints, comma separated (env OBHUB_ETCD)")
	kekFile := getenv("OBHUB_KEY_ENCRYPTION_KEY_FILE")
	fs.StringVar(&kekFile, "key-encryption-key-file", kekFile, "file holding the key-encryption key (instead of OBHUB_KEY_ENCRYPTION_KEY; env OBHUB_KEY_ENCRYPTION_KEY_FILE)")
	rp := fs.Bool("rp", false, "the relying-party keys (client assertions at the banks' OpenID providers, /oauth2/rp-jwks) instead of the token-signing keys")
	var opts oauth.RotateOptions
	if args[0] == "withdraw" {
		fs.StringVar(&opts.Algorithm, "alg", "", "algorithm of the key that signs instead, when the withdrawn key was signing (default: the same)")
	}
	if args[0] == "rotate" {
		fs.StringVar(&opts.Algorithm, "alg", oauth.AlgES256, "algorithm of the new key: ES256, PS256 or EdDSA")
		fs.DurationVar(&opts.Prepublish, "prepublish", oauth.DefaultPrepublish,
			"how long the new key is in the JWKS before it signs (at least the JWKS cache time, 5m)")
		fs.DurationVar(&opts.TokenLifetime, "token-lifetime", 10*time.Minute,
			"longest access-token lifetime: the old key stays published this long (+1m) after the new one signs")
	}
	rest := args[1:]
	if args[0] == "withdraw" {
		fs.Usage = func() {
			fmt.Fprint(fs.Output(), "usage: obhub keys withdraw KEY-ID [flags]\n")
			fs.PrintDefaults()
		}
		kid, rest = keyIDArg(fs, rest)
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys %s: unexpected argument %q", args[0], fs.Arg(0))
	}
	if args[0] == "withdraw" && kid == "" {
		return errors.New("keys withdraw: name the key id to withdraw (obhub keys list shows them)")
	}
	kek, err := config.CommandKEK(getenv(config.KeyEncryptionKeyEnv), kekFile)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	set := signingKeySet
	if *rp {
		set = rpKeySet
	}
	dir := set.dir(data)
	if args[0] == "withdraw" {
		return withdrawKey(ctx, stdout, set, dir, etcdEndpoints, kek, kid, opts.Algorithm)
	}
	if args[0] == "rotate" {
		if opts.Prepublish < oauth.KeyReloadInterval {
			return fmt.Errorf("keys rotate: --prepublish %s is shorter than the nodes' key reload interval %s", opts.Prepublish, oauth.KeyReloadInterval)
		}
		if _, err := oauth.ParseAlgorithm(opts.Algorithm); err != nil {
			return fmt.Errorf("keys rotate: --alg: %w", err)
		}
		var rot oauth.Rotation
		if etcdEndpoints == "" {
			// A data folder never started gets its first key, then rotates.
			opts.KEK = kek
			rot, err = oauth.RotateKeys(dir, time.Now(), opts)
		} else {
			err = changeKeySet(ctx, set, dir, etcdEndpoints, kek, func(plain []byte) ([]byte, error) {
				out, r, err := oauth.RotateKeyFile(plain, time.Now(), opts)
				rot = r
				return out, err
			})
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new key %s (%s): published now, signs from %s\n", rot.NewKeyID, rot.Algorithm, rot.ActivateAt.Format(time.RFC3339))
		if rot.OldKeyID != "" {
			fmt.Fprintf(stdout, "old key %s: signs until then, published until %s\n", rot.OldKeyID, rot.RetireAt.Format(time.RFC3339))
		}
		return nil
	}
	plain, err := readKeySet(ctx, set, dir, etcdEndpoints, kek)
	if err != nil {
		return err
	}
	infos, err := oauth.DescribeKeySet(plain, time.Now())
	if err != nil {
		return err
	}
	for _, k := range infos {
		state := "published"
		if k.Active {
			state = "active"
		}
		line := fmt.Sprintf("%s %s %s", k.KeyID, k.Algorithm, state)
		if !k.ActivateAt.IsZero() {
			line += " signs-from=" + k.ActivateAt.Format(time.RFC3339)
		}
		if !k.RetireAt.IsZero() {
			line += " retires=" + k.RetireAt.Format(time.RFC3339)
		}
		fmt.Fprintln(stdout, line)
	}
	return nil
}

// keyIDArg takes the key id out of withdraw's arguments: the first one
// that is neither a flag fs knows, a request for help (-h, --help), nor a
// flag's value. A key id may begin with '-' (a base64url thumbprint), so
// "looks like a flag" does not decide it.
func keyIDArg(fs *flag.FlagSet, args []string) (kid string, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		var f *flag.Flag
		hasValue := false
		if strings.HasPrefix(a, "-") && a != "--" {
			var name string
			name, _, hasValue = strings.Cut(strings.TrimLeft(a, "-"), "=")
			f = fs.Lookup(name)
		}
		if f == nil && a != "--" && kid == "" && (a == "help" || !isHelp(a)) {
			kid = a
			continue
		}
		rest = append(rest, a)
		if f != nil && !hasValue && !isBoolFlag(f) && i+1 < len(args) {
			i++
			rest = append(rest, args[i]) // the flag's value
		}
	}
	return kid, rest
}

// isBoolFlag reports whether f takes no value (-rp, not -rp true).
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// keySet names one of the node's key sets: where a node keeps it in its
// data folder and under which key a cluster keeps it in etcd.
type keySet struct {
	name    string // for messages
	sub     string // folder under <data>/keys
	etcdKey string
}

var (
	// signingKeySet signs access tokens and ID tokens (/oauth2/jwks).
	signingKeySet = keySet{name: "signing keys", etcdKey: config.SigningKeyKey}
	// rpKeySet signs the hub's client assertions at the banks' OpenID
	// providers (/oauth2/rp-jwks).
	rpKeySet = keySet{name: "relying-party keys", sub: "rp", etcdKey: config.RPSigningKeyKey}
)

// dir is the set's folder in the data folder data.
func (k keySet) dir(data string) string { return filepath.Join(data, "keys", k.sub) }

// withdrawKey retires the key kid at once (oauth.WithdrawKeyFile) in the
// data folder dir or, with etcd endpoints, in the cluster's key set.
func withdrawKey(ctx context.Context, stdout io.Writer, set keySet, dir, etcdEndpoints string, kek []byte, kid, alg string) error {
	var w oauth.Withdrawal
	err := changeKeySet(ctx, set, dir, etcdEndpoints, kek, func(plain []byte) ([]byte, error) {
		out, res, err := oauth.WithdrawKeyFile(plain, kid, time.Now(), alg)
		w = res
		return out, err
	})
	if err != nil {
		return fmt.Errorf("keys withdraw: %w", err)
	}
	if set == rpKeySet {
		fmt.Fprintf(stdout, "key %s withdrawn: out of /oauth2/rp-jwks now; every node stops signing with it within %s\n", w.KeyID, oauth.KeyReloadInterval)
	} else {
		fmt.Fprintf(stdout, "key %s withdrawn: out of the JWKS now; every node refuses its tokens within %s\n", w.KeyID, oauth.KeyReloadInterval)
	}
	if w.NewKeyID != "" {
		fmt.Fprintf(stdout, "new key %s (%s) signs from now on\n", w.NewKeyID, w.Algorithm)
	}
	return nil
}

// readKeySet returns the plaintext key set: the cluster's with etcd
// endpoints, else the data folder's.
func readKeySet(ctx context.Context, set keySet, dir, etcdEndpoints string, kek []byte) ([]byte, error) {
	if etcdEndpoints == "" {
		return oauth.ReadKeySet(dir, kek)
	}
	var plain []byte
	err := withClusterKeys(ctx, set, etcdEndpoints, kek, func(s config.SealedSecret) error {
		b, err := s.Get(ctx)
		if err == nil {
			plain, err = oauth.OpenKeySetFile(b, kek)
		}
		return err
	})
	return plain, err
}

// changeKeySet applies change to the plaintext key set: with etcd
// endpoints the cluster's (a compare-and-swap: two concurrent changes
// cannot both win), else the data folder's (oauth.UpdateKeySet). An error
// from change leaves the set as it was.
func changeKeySet(ctx context.Context, set keySet, dir, etcdEndpoints string, kek []byte, change func(plain []byte) ([]byte, error)) error {
	if etcdEndpoints == "" {
		return oauth.UpdateKeySet(dir, kek, change)
	}
	return withClusterKeys(ctx, set, etcdEndpoints, kek, func(s config.SealedSecret) error {
		return s.Update(ctx, func(cur []byte) ([]byte, error) {
			plain, err := oauth.OpenKeySetFile(cur, kek)
			if err != nil {
				return nil, err
			}
			out, err := change(plain)
			if err != nil {
				return nil, err
			}
			return oauth.SealKeySetFile(out, kek)
		})
	})
}

// withClusterKeys runs fn on the cluster's sealed key set in etcd.
func withClusterKeys(ctx context.Context, set keySet, endpoints string, kek []byte, fn func(config.SealedSecret) error) error {
	if kek == nil {
		return fmt.Errorf("keys: --etcd needs the cluster's key-encryption key: %s is not set", config.KeyEncryptionKeyEnv)
	}
	kv := etcd.New(etcd.ParseEndpoints(endpoints), etcd.Options{})
	defer kv.Close()
	if err := kv.Open(ctx); err != nil {
		return fmt.Errorf("keys: etcd: %w", err)
	}
	if err := fn(config.SealedSecret{KV: kv, Key: set.etcdKey, KEK: kek}); err != nil {
		if obhub.ErrorCode(err) == obhub.ENOTFOUND {
			return fmt.Errorf("keys: the cluster has no %s yet: start a node first", set.name)
		}
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

// keyOptions returns how this node opens its signing keys: the clock,
// the algorithm of a first key (--signing-alg) and the key-encryption
// key, if any.
func (m *Main) keyOptions() (oauth.KeyOptions, error) {
	kek, err := m.Config.KEK()
	if err != nil {
		return oauth.KeyOptions{}, err
	}
	return oauth.KeyOptions{Now: m.Clock, Algorithm: m.Config.SigningAlg, KEK: kek, Logger: m.Logger}, nil
}

// openKeyFolder opens (creating on first start, encrypting a plaintext
// file when a key-encryption key is configured) the signing keys in dir.
func (m *Main) openKeyFolder(dir string) (*oauth.Keys, error) {
	opts, err := m.keyOptions()
	if err != nil {
		return nil, err
	}
	keys, err := oauth.OpenKeyFolder(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// openSigningKeys opens the node's signing keys once the cluster's copy,
// if any, is in place (cluster.go). Without a key-encryption key it
// warns that the private keys (and the HMAC secret) lie in plaintext on
// the disk. In a cluster whose etcd copies predate encryption at rest
// (the plaintext key file or HMAC secret), it replaces them with the
// sealed files, once.
func (m *Main) openSigningKeys(ctx context.Context, dir string) (*oauth.Keys, error) {
	keys, err := m.openKeyFolder(dir)
	if err != nil {
		return nil, err
	}
	kek, _ := m.Config.KEK() // checked by openKeyFolder
	if kek == nil {
		m.Logger.Warn("signing keys and the OAuth HMAC secret are stored unencrypted in the data folder: set " + config.KeyEncryptionKeyEnv +
			" or --key-encryption-key-file to encrypt them at rest")
		return keys, nil
	}
	if m.Config.Etcd != "" && !m.etcdDownAtStart {
		if _, err := m.openHMACSecret(dir); err != nil { // seal a plaintext copy first (keys_secret.go)
			return nil, err
		}
		m.upgradeClusterSecret(ctx, kek)
		s := config.SealedSecret{KV: m.kv, Key: config.SigningKeyKey, KEK: kek}
		err := s.Update(ctx, func(cur []byte) ([]byte, error) {
			if oauth.IsSealedKeySetFile(cur) {
				return nil, errUnchanged
			}
			return oauth.SealKeySetFile(cur, kek)
		})
		switch {
		case err == nil:
			m.Logger.Info("cluster signing keys in etcd now hold the encrypted key file")
		case errors.Is(err, errUnchanged):
		default:
			m.Logger.Warn("cluster signing keys: etcd copy not upgraded to the encrypted key file; will retry at next start", "err", err)
		}
	}
	return keys, nil
}

// errUnchanged stops a SealedSecret.Update that has nothing to change.
var errUnchanged = errors.New("unchanged")

// syncClusterKeys copies the cluster's key set from etcd to this node's
// key file when it changed there (obhub keys rotate --etcd). While etcd
// is unreachable the node keeps its copy.
func (m *Main) syncClusterKeys(ctx context.Context, set keySet, kek []byte) {
	s := config.SealedSecret{KV: m.kv, Key: set.etcdKey, KEK: kek}
	b, err := s.Get(ctx)
	if err != nil {
		m.Logger.Debug(set.name+": etcd not read; keeping this node's copy", "err", err)
		return
	}
	dir := set.dir(m.Config.Data)
	plain, err := oauth.OpenKeySetFile(b, kek)
	if err == nil {
		if cur, err := oauth.ReadKeySet(dir, kek); err == nil && bytes.Equal(cur, plain) {
			return
		}
		// As etcd holds it: a sealed copy is written byte for byte, so
		// that the next start finds the node's file equal to etcd's.
		err = oauth.WriteKeySet(dir, b, kek)
	}
	if err != nil {
		m.Logger.Error(set.name+": cannot store the cluster's keys", "err", err)
	}
}

// watchKeys re-reads the key file of set every interval until ctx ends,
// so that `obhub keys rotate` takes effect on a running node. A bad file
// is logged and the keys in use stay.
func (m *Main) watchKeys(ctx context.Context, set keySet, keys *oauth.Keys, interval time.Duration) {
	if interval <= 0 {
		interval = oauth.KeyReloadInterval
	}
	var kek []byte
	if m.Config.Etcd != "" {
		kek, _ = config.ParseKeyEncryptionKey(m.Config.KeyEncryptionKey) // checked at start
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if kek != nil {
			m.syncClusterKeys(ctx, set, kek)
		}
		changed, err := keys.Reload()
		switch {
		case err != nil:
			m.Logger.Error(set.name+": reload failed; keeping the keys in use", "err", err)
		case changed:
			m.Logger.Info(set.name+" reloaded", "keys", keys)
		}
	}
}
