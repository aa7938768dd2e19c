package config

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/obhub/obhub"
)

// adminTokenPrefix marks obhub admin tokens so that leaked ones are easy to
// find with secret scanners.
const adminTokenPrefix = "oba_"

// EnsureAdminToken settles the bootstrap admin token at start-up. When
// fromEnv is set (OBHUB_ADMIN_TOKEN) it is the token: nothing is stored
// and "" is returned. Otherwise, when the store already holds a token's
// hash, "" is returned. Otherwise a new 256-bit token is generated, its
// SHA-256 stored (expecting the key absent, so that nodes starting
// together agree on one), and the token returned once for printing.
func (s *Store) EnsureAdminToken(ctx context.Context, fromEnv string) (generated string, err error) {
	if fromEnv != "" {
		h := sha256.Sum256([]byte(fromEnv))
		s.adminHash.Store(&h)
		return "", nil
	}
	if _, err := s.loadAdminHash(ctx); err == nil {
		return "", nil
	} else if obhub.ErrorCode(err) != obhub.ENOTFOUND {
		return "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	token := adminTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	if _, err := s.kv.Txn(ctx, Put(AdminTokenKey, []byte(hex.EncodeToString(h[:])), Absent)); err != nil {
		if obhub.ErrorCode(err) != obhub.ECONFLICT {
			return "", fmt.Errorf("store admin token: %w", err)
		}
		// Another node stored one first: use theirs.
		if _, err := s.loadAdminHash(ctx); err != nil {
			return "", err
		}
		return "", nil
	}
	s.adminHash.Store(&h)
	return token, nil
}

// loadAdminHash reads the stored hash and caches it.
func (s *Store) loadAdminHash(ctx context.Context) (*[sha256.Size]byte, error) {
	got, err := s.kv.Get(ctx, AdminTokenKey)
	if err != nil {
		if obhub.ErrorCode(err) == obhub.ENOTFOUND {
			return nil, obhub.Errorf(obhub.ENOTFOUND, "no admin token")
		}
		return nil, fmt.Errorf("read admin token: %w", err)
	}
	var h [sha256.Size]byte
	if n, err := hex.Decode(h[:], got.Value); err != nil || n != sha256.Size {
		return nil, fmt.Errorf("read admin token: the stored hash at %s is malformed", AdminTokenKey)
	}
	s.adminHash.Store(&h)
	return &h, nil
}

// CheckAdminToken reports whether token is the admin token, in constant
// time. The hash is cached after the first read.
func (s *Store) CheckAdminToken(ctx context.Context, token string) bool {
	ok, _ := s.VerifyAdminToken(ctx, token)
	return ok
}

// VerifyAdminToken is CheckAdminToken that also says why a token could not
// be checked: EUNAVAILABLE when the hash is not cached yet and the store
// does not answer (a node started on its last-known configuration while
// etcd is down), so that the caller answers 503, not "wrong token".
func (s *Store) VerifyAdminToken(ctx context.Context, token string) (bool, error) {
	want := s.adminHash.Load()
	if want == nil {
		var err error
		if want, err = s.loadAdminHash(ctx); err != nil {
			if obhub.ErrorCode(err) == obhub.EUNAVAILABLE {
				return false, obhub.Errorf(obhub.EUNAVAILABLE, "the admin token cannot be checked until the configuration store answers; try again later")
			}
			return false, nil
		}
	}
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && token != "", nil
}
