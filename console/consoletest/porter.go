package consoletest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/console"
)

// PorterStore is a console store that can be exported and imported.
type PorterStore interface {
	console.Store
	console.Porter
}

// RunPorter runs the conformance suite of console.Porter: operators
// exported from one store and imported into a fresh one read back the
// same (ids, password hashes, lockout state), and a store that holds
// operators refuses an import and stays as it was. open returns a fresh,
// empty, open store.
func RunPorter(t *testing.T, open func(t *testing.T) PorterStore) {
	ctx := context.Background()
	now := msNow()
	src := open(t)
	mustOK(t, src.CreateOperator(ctx, operator("op_1", "wang.fang@hill-rcb.example", now)))
	mustOK(t, src.CreateOperator(ctx, operator("op_2", "li.ming@hill-rcb.example", now.Add(time.Second))))
	mustOK(t, src.SetLoginState(ctx, "op_2", 4, now.Add(time.Hour)))
	ops, err := src.ExportOperators(ctx)
	mustOK(t, err)
	if len(ops) != 2 || ops[0].ID != "op_1" || ops[1].Failures != 4 {
		t.Fatalf("ExportOperators = %+v", ops)
	}

	dst := open(t)
	mustOK(t, dst.ImportOperators(ctx, ops))
	got, err := dst.ExportOperators(ctx)
	mustOK(t, err)
	if !reflect.DeepEqual(got, ops) {
		t.Errorf("ExportOperators after ImportOperators = %+v\nwant %+v", got, ops)
	}
	o, err := dst.OperatorByEmail(ctx, "LI.MING@hill-rcb.example")
	mustOK(t, err)
	if d := diffOperator(*o, ops[1]); d != "" {
		t.Errorf("imported operator: %s", d)
	}
	if err := dst.ImportOperators(ctx, []console.Operator{operator("op_9", "z@example.com", now)}); obhub.ErrorCode(err) != obhub.ECONFLICT {
		t.Errorf("ImportOperators into a store with operators = %v, want ECONFLICT", err)
	}
	if _, err := dst.Operator(ctx, "op_9"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("a refused import left operator op_9: %v", err)
	}
}
