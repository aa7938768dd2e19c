package config_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
)

func TestBankOIDCSecretLivesAndDiesWithTheBank(t *testing.T) {
	ctx := context.Background()
	s, kv := newStore(t)
	kek := make([]byte, 32)
	rand.Read(kek)
	secret := func(id string) (string, error) {
		b, err := config.BankOIDCSecret(kv, kek, id).Get(ctx)
		return string(b), err
	}
	put := func(id, v string) config.Op {
		op, err := config.BankOIDCSecret(nil, kek, id).PutOp([]byte(v))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(op.Value, []byte(v)) {
			t.Fatalf("the op stores the secret in the clear")
		}
		return op
	}
	oidc := &catalog.BankOIDC{Issuer: "https://id.vale.example", ClientID: "obhub", Scopes: []string{"openid"},
		CustomerIDClaim: "sub", ClientSecretUpdatedAt: time.Now().UTC()}

	// A bank that fails validation stores no secret either (one transaction).
	if _, err := s.CreateBank(ctx, catalog.Bank{ID: "vale", OIDC: oidc}, put("vale", "first-client-secret")); obhub.ErrorCode(err) != obhub.EINVALID {
		t.Fatalf("invalid bank: %v", err)
	}
	if _, err := secret("vale"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Fatalf("secret of a refused bank: %v", err)
	}
	must[*catalog.Bank](t)(s.CreateBank(ctx, catalog.Bank{ID: "vale", Name: "Vale", OIDC: oidc}, put("vale", "first-client-secret")))
	if got, err := secret("vale"); got != "first-client-secret" || err != nil {
		t.Fatalf("secret %q, %v", got, err)
	}
	// Sealed for its key: the value does not open as another bank's.
	stored, _ := kv.Get(ctx, config.BankOIDCSecretKey("vale"))
	if _, err := kv.Txn(ctx, config.Put(config.BankOIDCSecretKey("hill"), stored.Value, config.Any)); err != nil {
		t.Fatal(err)
	}
	if _, err := secret("hill"); err == nil {
		t.Fatal("a sealed secret moved to another bank opened")
	}

	must[*catalog.Bank](t)(s.UpdateBank(ctx, "vale", func(b *catalog.Bank) error { b.Name = "Vale Bank"; return nil }, put("vale", "second-client-secret")))
	if got, _ := secret("vale"); got != "second-client-secret" {
		t.Fatalf("after an update with a new secret: %q", got)
	}
	must[*catalog.Bank](t)(s.UpdateBank(ctx, "vale", func(b *catalog.Bank) error { b.OIDC = nil; return nil }))
	if _, err := secret("vale"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Fatalf("secret after the provider was removed: %v", err)
	}
	must[*catalog.Bank](t)(s.UpdateBank(ctx, "vale", func(b *catalog.Bank) error { b.OIDC = oidc; return nil }, put("vale", "third-client-secret")))
	if err := s.DeleteBank(ctx, "vale"); err != nil {
		t.Fatal(err)
	}
	if _, err := secret("vale"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Fatalf("secret after the bank was deleted: %v", err)
	}
}
