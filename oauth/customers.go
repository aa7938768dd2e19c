package oauth

import (
	"context"
	"crypto/subtle"
	"slices"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// Customers signs in a member bank's customers at the authorization
// endpoint with a login and password, on behalf of the bank: the
// sandbox's simulated customers (SandboxCustomers). A production app's
// customers sign in at their bank's own OpenID provider instead
// (BankSignIn, banksignin.go).
type Customers interface {
	// Banks lists the banks whose customers can sign in, for the bank
	// choice on the sign-in screen.
	Banks(ctx context.Context) ([]Bank, error)
	// Authenticate checks a customer's login at bank for an app in env.
	// Wrong credentials, an unknown bank, or an environment the
	// implementation does not serve are EUNAUTHORIZED.
	Authenticate(ctx context.Context, env partners.Environment, bank, login, password string) (Customer, error)
}

// Bank is a member bank as the sign-in screen shows it.
type Bank struct {
	ID, Name string
}

// Customer is a signed-in customer of a bank. ID becomes the access
// token's sub.
type Customer struct {
	ID, Name string
}

// SandboxPassword is the password of every simulated customer.
const SandboxPassword = "sandbox"

// SandboxLogins are the simulated customers of every bank in the sandbox:
// login → display name. Their ids are "<bank>:<login>".
var SandboxLogins = map[string]string{
	"zhangsan": "张三 (Zhang San)",
	"lisi":     "李四 (Li Si)",
	"wangwu":   "王五 (Wang Wu)",
}

// SandboxCustomers signs in the simulated customers (SandboxLogins, with
// password SandboxPassword) of every bank that BankList returns, for
// sandbox apps only: a production app's customers sign in at their bank
// (BankSignIn), so they are refused here.
type SandboxCustomers struct {
	BankList func(ctx context.Context) ([]Bank, error)
}

var _ Customers = SandboxCustomers{}

// Banks implements Customers.
func (s SandboxCustomers) Banks(ctx context.Context) ([]Bank, error) {
	if s.BankList == nil {
		return nil, nil
	}
	return s.BankList(ctx)
}

// Authenticate implements Customers.
func (s SandboxCustomers) Authenticate(ctx context.Context, env partners.Environment, bank, login, password string) (Customer, error) {
	denied := obhub.Errorf(obhub.EUNAUTHORIZED, "wrong login or password")
	if env != partners.Sandbox {
		return Customer{}, obhub.Errorf(obhub.EUNAUTHORIZED, "a production app's customers sign in at their bank's own identity provider")
	}
	banks, err := s.Banks(ctx)
	if err != nil {
		return Customer{}, err
	}
	name, known := SandboxLogins[login]
	ok := subtle.ConstantTimeCompare([]byte(password), []byte(SandboxPassword)) == 1
	if !known || !ok || !slices.ContainsFunc(banks, func(b Bank) bool { return b.ID == bank }) {
		return Customer{}, denied
	}
	return Customer{ID: bank + ":" + login, Name: name}, nil
}
