package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Checkpoint key files, in the node's keys folder: never in the audit
// store, so that whoever can rewrite the store cannot re-sign a rebuilt
// chain.
const (
	KeyFile       = "audit-checkpoint.key" // Ed25519 private key, PEM, mode 0600
	PublicKeyFile = "audit-checkpoint.pub" // its public key, PEM
)

// Signer signs checkpoints with an Ed25519 key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner returns a signer for key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: keyID(key.Public().(ed25519.PublicKey))}
}

// String keeps the key out of logs.
func (s *Signer) String() string { return "audit signer " + s.id }

// KeyID names the signer's key.
func (s *Signer) KeyID() string { return s.id }

// Public returns the ring of the signer's public key.
func (s *Signer) Public() *KeyRing {
	return NewKeyRing(s.key.Public().(ed25519.PublicKey))
}

// Sign fills in c.KeyID and c.Signature.
func (s *Signer) Sign(c *Checkpoint) {
	c.KeyID = s.id
	c.Signature = ed25519.Sign(s.key, checkpointMessage(c))
}

// KeyRing holds the public keys that verify checkpoints.
type KeyRing struct {
	keys map[string]ed25519.PublicKey
}

// NewKeyRing returns a ring of keys.
func NewKeyRing(keys ...ed25519.PublicKey) *KeyRing {
	r := &KeyRing{keys: map[string]ed25519.PublicKey{}}
	for _, k := range keys {
		r.keys[keyID(k)] = k
	}
	return r
}

// Verify reports whether c is signed by a key of the ring.
func (r *KeyRing) Verify(c *Checkpoint) bool {
	k, ok := r.keys[c.KeyID]
	return ok && ed25519.Verify(k, checkpointMessage(c), c.Signature)
}

func keyID(k ed25519.PublicKey) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:8])
}

// checkpointMessage is what a checkpoint's signature covers.
func checkpointMessage(c *Checkpoint) []byte {
	b := []byte("obhub audit checkpoint v1\x00")
	b = binary.AppendVarint(b, c.Seq)
	b = binary.AppendVarint(b, c.Time.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(c.Algorithm)))
	b = append(b, c.Algorithm...)
	b = binary.AppendUvarint(b, uint64(len(c.KeyID)))
	b = append(b, c.KeyID...)
	b = binary.AppendUvarint(b, uint64(len(c.Hash)))
	return append(b, c.Hash...)
}

// LoadOrCreateSigner reads the checkpoint key from dir (KeyFile), creating
// the folder (0700), the key (0600) and its public key file on first use.
func LoadOrCreateSigner(dir string) (*Signer, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("audit checkpoint key: %w", err)
		}
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("audit checkpoint key: %w", err)
		}
		priv := pem.EncodeToMemory(&pem.Block{Type: "OBHUB AUDIT CHECKPOINT PRIVATE KEY", Bytes: key.Seed()})
		if err := writeNew(path, priv, 0o600); errors.Is(err, fs.ErrExist) {
			return LoadOrCreateSigner(dir) // another process made it first
		} else if err != nil {
			return nil, fmt.Errorf("audit checkpoint key: %w", err)
		}
		pub := pem.EncodeToMemory(&pem.Block{Type: "OBHUB AUDIT CHECKPOINT PUBLIC KEY", Bytes: key.Public().(ed25519.PublicKey)})
		if err := os.WriteFile(filepath.Join(dir, PublicKeyFile), pub, 0o644); err != nil {
			return nil, fmt.Errorf("audit checkpoint public key: %w", err)
		}
		return NewSigner(key), nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || len(blk.Bytes) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit checkpoint key %s: not an obhub checkpoint key", path)
	}
	return NewSigner(ed25519.NewKeyFromSeed(blk.Bytes)), nil
}

// LoadKeyRing reads the public checkpoint key from dir: PublicKeyFile, or
// the private key's public half when only KeyFile is there.
func LoadKeyRing(dir string) (*KeyRing, error) {
	b, err := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || len(blk.Bytes) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("audit checkpoint public key in %s: malformed", dir)
		}
		return NewKeyRing(ed25519.PublicKey(blk.Bytes)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("audit checkpoint public key: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil {
		// The public key is what users copy with a ledger: name it.
		return nil, fmt.Errorf("audit checkpoint public key %s: %w", filepath.Join(dir, PublicKeyFile), fs.ErrNotExist)
	}
	s, err := LoadOrCreateSigner(dir)
	if err != nil {
		return nil, err
	}
	return s.Public(), nil
}

// writeNew creates path with data, failing if it exists, and syncs it.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// newCheckpoint builds an unsigned checkpoint of head.
func newCheckpoint(h Head, alg string, now time.Time) Checkpoint {
	return Checkpoint{Seq: h.Seq, Hash: append([]byte(nil), h.Hash...), Time: time.Unix(0, now.UnixNano()).UTC(), Algorithm: alg}
}
