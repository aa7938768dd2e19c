package demo

import (
	"fmt"
	"sync"
	"time"
)

// store keeps what clients create: payments and loan applications.
type store struct {
	mu           sync.Mutex
	seq          map[string]int      // bank prefix + kind → last number
	payments     map[string]*payment // by id
	idempotency  map[string]string   // bank, client and key → payment id
	applications map[string]*loanApp // by id
	order        []string            // ids, oldest first, to bound memory
	forget       map[string]func()   // id → removes it
	posted       map[string][]txn    // account id → payments booked on it (ledger mode), oldest first
}

// maxKept bounds what the store keeps; the oldest go first.
const maxKept = 10_000

func newStore() *store {
	return &store{
		seq: map[string]int{}, payments: map[string]*payment{}, idempotency: map[string]string{},
		applications: map[string]*loanApp{}, forget: map[string]func(){}, posted: map[string][]txn{},
	}
}

// nextID returns a new id such as QS-PAY-20261127-000001. Callers hold mu.
func (s *store) nextID(prefix, kind string, now time.Time) string {
	s.seq[prefix+kind]++
	return fmt.Sprintf("%s-%s-%s-%06d", prefix, kind, now.In(cst).Format("20060102"), s.seq[prefix+kind])
}

// keep records id with the function that removes it, and forgets the
// oldest entries over maxKept. Callers hold mu.
func (s *store) keep(id string, remove func()) {
	s.order = append(s.order, id)
	s.forget[id] = remove
	for len(s.order) > maxKept {
		old := s.order[0]
		s.order = s.order[1:]
		s.forget[old]()
		delete(s.forget, old)
	}
}
