package openapi

import (
	"reflect"
	"testing"
)

const diffV1 = `openapi: 3.0.3
info: {title: Accounts, version: "1"}
servers: [{url: /v1}]
paths:
  /accounts:
    get:
      operationId: listAccounts
      parameters:
        - {name: limit, in: query, schema: {type: integer}}
        - {name: branch, in: query, required: true, schema: {type: string}}
      responses:
        "200": {description: ok}
        "404": {description: none}
    post:
      operationId: openAccount
      requestBody:
        content: {application/json: {schema: {type: object}}}
      responses:
        "201": {description: created}
  /accounts/{id}:
    get:
      operationId: getAccount
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: ok}
  /legacy:
    get:
      responses:
        "200": {description: ok}
`

const diffV2 = `openapi: 3.0.3
info: {title: Accounts, version: "2"}
servers: [{url: /v1}]
paths:
  /accounts:
    get:
      operationId: listAccounts
      parameters:
        - {name: limit, in: query, required: true, schema: {type: integer}}
        - {name: cursor, in: query, schema: {type: string}}
      responses:
        "200": {description: ok}
        "429": {description: slow down}
    post:
      operationId: openAccount
      requestBody:
        required: true
        content: {application/json: {schema: {type: object}}}
      responses:
        "201": {description: created}
  /accounts/{accountId}:
    get:
      operationId: getAccount
      parameters: [{name: accountId, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: ok}
  /accounts/{accountId}/balances:
    get:
      parameters: [{name: accountId, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: ok}
`

func TestDiff(t *testing.T) {
	v1, v2 := mustImport(t, []byte(diffV1)), mustImport(t, []byte(diffV2))
	got := Diff(v1, v2)
	want := []OperationDiff{
		{Change: OperationChanged, Method: "GET", Path: "/accounts", Differences: []Difference{
			{Kind: ParamAdded, Name: "query cursor"},
			{Kind: ParamRequired, Name: "query limit", Breaking: true},
			{Kind: ParamRemoved, Name: "query branch"},
			{Kind: ResponseAdded, Name: "429"},
			{Kind: ResponseRemoved, Name: "404", Breaking: true},
		}},
		{Change: OperationChanged, Method: "POST", Path: "/accounts", Differences: []Difference{
			{Kind: BodyRequired, Breaking: true},
		}},
		// GET /accounts/{accountId} only renamed its path parameter:
		// clients send the same requests, so it is not a change.
		{Change: OperationAdded, Method: "GET", Path: "/accounts/{accountId}/balances"},
		{Change: OperationRemoved, Method: "GET", Path: "/legacy"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff(v1, v2):\n got %+v\nwant %+v", got, want)
	}
	breaking := map[string]bool{}
	for _, o := range got {
		breaking[o.Method+" "+o.Path] = o.Breaking()
	}
	if !breaking["GET /legacy"] || breaking["GET /accounts/{accountId}/balances"] || !breaking["POST /accounts"] {
		t.Errorf("Breaking() = %v", breaking)
	}

	if d := Diff(v1, v1); len(d) != 0 {
		t.Errorf("Diff of a document with itself = %+v, want nothing", d)
	}
	all := Diff(nil, v2)
	if len(all) != 4 {
		t.Fatalf("Diff(nil, v2) has %d entries, want every operation added (4)", len(all))
	}
	for _, o := range all {
		if o.Change != OperationAdded {
			t.Errorf("Diff(nil, v2): %s %s is %s, want added", o.Method, o.Path, o.Change)
		}
	}
}
