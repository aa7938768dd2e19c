package console

import "context"

// Porter moves a console store's operators (password hashes, lockout
// state) to a store of another backend (`obhub cluster import`:
// console.db into PostgreSQL). Sessions are left out: operators sign in
// again. consoletest.RunPorter is its conformance suite.
type Porter interface {
	// ExportOperators returns every operator, oldest first.
	ExportOperators(ctx context.Context) ([]Operator, error)
	// ImportOperators stores ops in one transaction, keeping their ids. A
	// store that holds any operator is ECONFLICT and is left unchanged.
	ImportOperators(ctx context.Context, ops []Operator) error
}
