package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected parts of testdata/golden")

// goldenFile holds one request vector of ../shared/docs/idp: the requests
// the provider sends and, per request, the canonical upstream request (or the
// SCIM error) and optionally an upstream answer and what the provider gets.
type goldenFile struct {
	Vector string       `json:"vector"`
	Source string       `json:"source"`
	Cases  []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name     string          `json:"name,omitempty"`
	Dialect  string          `json:"dialect"`
	Note     string          `json:"note,omitempty"`
	Request  goldenRequest   `json:"request"`
	Upstream *goldenUpstream `json:"upstream,omitempty"`
	Error    *goldenError    `json:"error,omitempty"`
	Response *goldenResponse `json:"response,omitempty"`
}

type goldenRequest struct {
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Query    string            `json:"query,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Body     json.RawMessage   `json:"body,omitempty"`
	BodyText string            `json:"bodyText,omitempty"`
}

type goldenUpstream struct {
	Dialect     Dialect         `json:"dialect"`
	Query       string          `json:"query,omitempty"`
	ContentType string          `json:"contentType,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
	BodyText    string          `json:"bodyText,omitempty"`
	Rewrites    []Rewrite       `json:"rewrites,omitempty"`
}

type goldenError struct {
	Status   int    `json:"status"`
	ScimType string `json:"scimType"`
}

type goldenResponse struct {
	Upstream goldenHTTP  `json:"upstream"`
	Want     *goldenHTTP `json:"want,omitempty"`
	Rewrites []Rewrite   `json:"rewrites,omitempty"`
}

type goldenHTTP struct {
	Status      int             `json:"status"`
	ContentType string          `json:"contentType,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
	BodyText    string          `json:"bodyText,omitempty"`
}

func compactBytes(t testing.TB, raw json.RawMessage, text string) []byte {
	t.Helper()
	if raw == nil {
		return []byte(text)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bodyFields splits a body into the JSON or text field of a golden file.
func bodyFields(b []byte) (json.RawMessage, string) {
	if len(b) > 0 && json.Valid(b) {
		return json.RawMessage(b), ""
	}
	return nil, string(b)
}

func (r goldenRequest) request(t testing.TB) Request {
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return Request{Method: r.Method, Path: r.Path, RawQuery: r.Query, Header: h, Body: compactBytes(t, r.Body, r.BodyText)}
}

func goldenPaths(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/golden/*/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return files
}

func readGoldenFiles(t testing.TB) []goldenFile {
	t.Helper()
	var out []goldenFile
	for _, path := range goldenPaths(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f goldenFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, f)
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, path := range goldenPaths(t) {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(path, "testdata/golden/"), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var f goldenFile
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
			for i := range f.Cases {
				runGoldenCase(t, &f.Cases[i])
			}
			if *update {
				var out bytes.Buffer
				enc := json.NewEncoder(&out)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(f); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func runGoldenCase(t *testing.T, c *goldenCase) {
	t.Helper()
	d, err := ParseDialect(c.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	req := c.Request.request(t)
	got, err := NormalizeRequest(d, req)
	var gotErr *goldenError
	var gotUp *goldenUpstream
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			t.Fatalf("%s: non-SCIM error %v", c.Name, err)
		}
		gotErr = &goldenError{Status: se.Status, ScimType: se.ScimType}
	} else {
		body, text := bodyFields(got.Body)
		gotUp = &goldenUpstream{Dialect: got.Dialect, Query: got.RawQuery, ContentType: got.ContentType, Body: body, BodyText: text, Rewrites: got.Rewrites}
		checkFixpoint(t, c.Name, got, req)
	}
	var gotResp *goldenHTTP
	var gotRespRW []Rewrite
	if c.Response != nil {
		up := c.Response.Upstream
		dd := d
		if err == nil {
			dd = got.Dialect
		}
		r, rw := NormalizeResponse(dd, req, Response{Status: up.Status, ContentType: up.ContentType, Body: compactBytes(t, up.Body, up.BodyText)})
		body, text := bodyFields(r.Body)
		gotResp, gotRespRW = &goldenHTTP{Status: r.Status, ContentType: r.ContentType, Body: body, BodyText: text}, rw
		again, _ := NormalizeResponse(dd, req, r)
		if again.Status != r.Status || again.ContentType != r.ContentType || !bytes.Equal(again.Body, r.Body) {
			t.Errorf("%s: response normalization is not idempotent: %s then %s", c.Name, r.Body, again.Body)
		}
	}
	if *update {
		c.Upstream, c.Error = gotUp, gotErr
		if c.Response != nil {
			c.Response.Want, c.Response.Rewrites = gotResp, gotRespRW
		}
		return
	}
	if !reflect.DeepEqual(gotErr, c.Error) {
		t.Errorf("%s: error = %+v; want %+v", c.Name, gotErr, c.Error)
	}
	if (gotUp == nil) != (c.Upstream == nil) {
		t.Fatalf("%s: upstream = %+v; want %+v", c.Name, gotUp, c.Upstream)
	}
	if gotUp != nil {
		want := *c.Upstream
		if gotUp.Dialect != want.Dialect || gotUp.Query != want.Query || gotUp.ContentType != want.ContentType ||
			!bytes.Equal(compactBytes(t, gotUp.Body, gotUp.BodyText), compactBytes(t, want.Body, want.BodyText)) ||
			!reflect.DeepEqual(gotUp.Rewrites, want.Rewrites) {
			t.Errorf("%s: upstream request\n got %+v %s\nwant %+v %s", c.Name, *gotUp, gotUp.Body, want, want.Body)
		}
	}
	if c.Response != nil {
		want := c.Response.Want
		if want == nil || gotResp.Status != want.Status || gotResp.ContentType != want.ContentType ||
			!bytes.Equal(compactBytes(t, gotResp.Body, gotResp.BodyText), compactBytes(t, want.Body, want.BodyText)) ||
			!reflect.DeepEqual(gotRespRW, c.Response.Rewrites) {
			t.Errorf("%s: response\n got %+v %s %v\nwant %+v", c.Name, *gotResp, gotResp.Body, gotRespRW, want)
		}
	}
}

// checkFixpoint normalizes the canonical request again: nothing may change.
func checkFixpoint(t *testing.T, name string, got Result, req Request) {
	t.Helper()
	h := req.Header.Clone()
	if got.ContentType != "" {
		h.Set("Content-Type", got.ContentType)
	}
	again, err := NormalizeRequest(got.Dialect, Request{Method: req.Method, Path: req.Path, RawQuery: got.RawQuery, Header: h, Body: got.Body})
	if err != nil || again.RawQuery != got.RawQuery || !bytes.Equal(again.Body, got.Body) || len(again.Rewrites) != 0 {
		t.Errorf("%s: not a fixpoint: %+v, %v", name, again, err)
	}
}

// outOfScope lists the vectors of ../shared/docs/idp that carry no SCIM
// request for the normalizer, and where they are tested instead.
var outOfScope = map[string]string{
	"entra/A-*": "token endpoint: authserver TestTokenEndpointChecklist and TestSecretLifecycle (case names carry the IDs); " +
		"end to end in gateway TestEntraTokenModes, TestEntraTokenOverlap",
	"entra/SC-*": "ordered scenarios: SC-01…SC-05 replayed end to end in scimtest (TestReplayEntra*), SC-06 in gateway TestEntraTokenExpiry",
	"okta/O1":    "authorization code flow: authserver TestCodeFlowIssuesAdminTokens, scimtest TestReplayOkta (gateway with authorization code)",
	"okta/O2":    "authorization code flow: authserver TestOktaRedirectURIs",
	"okta/O3":    "authorization code flow: authserver TestAuthorizeNeverRedirectsToUntrustedURIs",
	"okta/O4":    "token endpoint: authserver TestOktaTokenLifecycle",
	"okta/O5":    "token endpoint: authserver TestCodeFlowIssuesAdminTokens (AuthStyleInParams)",
	"okta/O6":    "token endpoint: authserver TestCodeGrantErrors",
	"okta/O7":    "token endpoint: authserver TestReplayedCodeRevokesFirstTokens, TestParallelCodeRedemption",
	"okta/O8":    "refresh: authserver TestOktaTokenLifecycle",
	"okta/O9":    "refresh: authserver TestOktaTokenLifecycle",
	"okta/O10":   "refresh: authserver TestRefreshGrant, TestParallelRefresh",
	"okta/O12":   "token endpoint: authserver TestTokenEndpointChecklist",
}

var vectorID = regexp.MustCompile(`^(?:[A-Z]{1,2}-\d{2}[a-zF]?|[AOUPGSRL]\d{1,2})$`)

// vectorIDsFile snapshots the vector IDs of ../shared/docs/idp, so that the
// coverage check runs from a clone that has only this repository.
const vectorIDsFile = "testdata/vector-ids.txt"

// docVectorIDs reads the vector sections of one provider's IdP doc.
func docVectorIDs(raw []byte) map[string]bool {
	text := string(raw)
	if i := strings.Index(text, "Request vectors\n"); i >= 0 {
		text = text[i:]
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 {
			if f := strings.Fields(cells[1]); len(f) > 0 && vectorID.MatchString(f[0]) {
				ids[f[0]] = true
			}
		}
		for _, m := range regexp.MustCompile(`\*\*([A-Z]{1,2}-\d{2}[a-zF]?)\b`).FindAllStringSubmatch(line, -1) {
			ids[m[1]] = true
		}
	}
	return ids
}

// snapshotVectorIDs reads testdata/vector-ids.txt: "provider/ID" per line.
func snapshotVectorIDs(t *testing.T) map[string]map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(vectorIDsFile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, line := range strings.Fields(string(raw)) {
		provider, id, _ := strings.Cut(line, "/")
		if out[provider] == nil {
			out[provider] = map[string]bool{}
		}
		out[provider][id] = true
	}
	return out
}

// TestVectorSnapshotMatchesDocs keeps testdata/vector-ids.txt equal to the
// IdP docs when they are beside the repository (run with -update to
// rewrite it); a clone without them skips this check only.
func TestVectorSnapshotMatchesDocs(t *testing.T) {
	docs := filepath.Join("..", "..", "..", "shared", "docs", "idp")
	var lines []string
	for _, provider := range []string{"entra", "okta", "onelogin"} {
		raw, err := os.ReadFile(filepath.Join(docs, provider+".md"))
		if err != nil {
			t.Skipf("SKIPPED: IdP docs not found beside the repository (%v); %s is checked instead", err, vectorIDsFile)
		}
		for id := range docVectorIDs(raw) {
			lines = append(lines, provider+"/"+id)
		}
	}
	sort.Strings(lines)
	want := strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(vectorIDsFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(vectorIDsFile); string(got) != want {
		t.Fatalf("%s is out of date with the IdP docs; run go test -run TestVectorSnapshotMatchesDocs -update", vectorIDsFile)
	}
}

// TestGoldenCoversEveryVector checks that each vector ID of the IdP docs
// has a golden file or a reason in outOfScope, and that no golden file
// names a vector the docs lack.
func TestGoldenCoversEveryVector(t *testing.T) {
	found := 0
	for provider, ids := range snapshotVectorIDs(t) {
		var missing []string
		for id := range ids {
			found++
			key := provider + "/" + id
			if _, err := os.Stat(filepath.Join("testdata", "golden", key+".json")); err == nil {
				continue
			}
			if outOfScope[key] != "" || outOfScope[provider+"/"+strings.SplitN(id, "-", 2)[0]+"-*"] != "" {
				continue
			}
			missing = append(missing, id)
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s: vectors without a golden file: %v", provider, missing)
		}
		strays, _ := filepath.Glob(filepath.Join("testdata", "golden", provider, "*.json"))
		for _, s := range strays {
			if id := strings.TrimSuffix(filepath.Base(s), ".json"); !ids[id] {
				t.Errorf("%s: golden file %s names no vector of the doc", provider, s)
			}
		}
	}
	if found < 150 {
		t.Errorf("found only %d vectors; the snapshot is probably broken", found)
	}
}
