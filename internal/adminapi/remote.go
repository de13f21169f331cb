package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/keys"
)

// maxResponseSize bounds what Remote reads from the server; a listing of
// thousands of clients stays far below it.
const maxResponseSize = 64 << 20

// Remote performs the operations through the admin API of a running
// scimgate: what the CLI does while `scimgate serve` holds the embedded
// store.
type Remote struct {
	base  string // scheme://host:port, no trailing slash
	token string
	http  *http.Client
}

var _ Operations = (*Remote)(nil)

// NewRemote returns a client of the admin API at baseURL (such as
// http://127.0.0.1:8081) authenticating with token. client nil means
// http.DefaultClient.
func NewRemote(baseURL, token string, client *http.Client) *Remote {
	if client == nil {
		client = http.DefaultClient
	}
	return &Remote{base: strings.TrimSuffix(baseURL, "/"), token: token, http: client}
}

// Error is an error response of the admin API. It wraps the credentials
// error its status stands for, so callers test Remote and Local errors alike.
type Error struct {
	Status int
	Body   ErrorBody
}

func (e *Error) Error() string {
	if e.Body.Detail != "" {
		return e.Body.Detail
	}
	return fmt.Sprintf("admin API: %s (HTTP %d)", e.Body.Error, e.Status)
}

// Unwrap maps the status back to the error it was rendered from.
func (e *Error) Unwrap() error {
	switch e.Status {
	case http.StatusBadRequest:
		return credentials.ErrInvalid
	case http.StatusNotFound:
		return credentials.ErrNotFound
	case http.StatusConflict:
		return credentials.ErrExists
	}
	return nil
}

// UnreachableError is a request to the admin API that got no HTTP answer.
type UnreachableError struct {
	URL string // the admin API's base URL
	Err error
}

func (e *UnreachableError) Error() string {
	switch {
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		return fmt.Sprintf("no admin API at %s: nothing listens there (connection refused)", e.URL)
	case errors.Is(e.Err, context.DeadlineExceeded) || os.IsTimeout(e.Err):
		return fmt.Sprintf("no answer from the admin API at %s in time", e.URL)
	}
	return fmt.Sprintf("no answer from the admin API at %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// path joins escaped segments under PathPrefix.
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString(PathPrefix)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

func withTenant(p, tenantID string) string {
	if tenantID == "" {
		return p
	}
	return p + "?" + url.Values{"tenant": {tenantID}}.Encode()
}

// call sends in (if not nil) as JSON and decodes the response into a new T.
func call[T any](ctx context.Context, c *Remote, method, p string, in any) (T, error) {
	var out T
	err := c.do(ctx, method, p, in, &out)
	return out, err
}

func (c *Remote) do(ctx context.Context, method, p string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+p, body)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the method and URL again would only repeat the base
		}
		return &UnreachableError{URL: c.base, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil {
		return fmt.Errorf("admin API: read response: %w", err)
	}
	if resp.StatusCode >= 300 {
		apiErr := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, &apiErr.Body) != nil || apiErr.Body.Error == "" {
			// Not an answer of the admin API (which always sends its JSON
			// error): another server, or a proxy in front of this one. Its
			// 404 must not read as "tenant not found".
			return fmt.Errorf("%s answered HTTP %d (%s) without an admin API error: is it the admin listener (listen.admin) of scimgate serve?",
				c.base, resp.StatusCode, http.StatusText(resp.StatusCode))
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("admin API at %s refused the admin token (%w); the CLI reads it from admin.token, SCIMGATE_ADMIN_TOKEN or <data dir>/admin.token", c.base, apiErr)
		}
		return apiErr
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API: decode response: %w", err)
	}
	return nil
}

// CreateTenant implements Operations.
func (c *Remote) CreateTenant(ctx context.Context, req NewTenant) (*Tenant, error) {
	return call[*Tenant](ctx, c, http.MethodPost, path("tenants"), req)
}

// Tenants implements Operations.
func (c *Remote) Tenants(ctx context.Context) ([]Tenant, error) {
	return call[[]Tenant](ctx, c, http.MethodGet, path("tenants"), nil)
}

// Tenant implements Operations.
func (c *Remote) Tenant(ctx context.Context, id string) (*Tenant, error) {
	return call[*Tenant](ctx, c, http.MethodGet, path("tenants", id), nil)
}

// SetTenantDisabled implements Operations.
func (c *Remote) SetTenantDisabled(ctx context.Context, id string, disabled bool) (*Tenant, error) {
	return call[*Tenant](ctx, c, http.MethodPost, path("tenants", id, toggle(disabled)), nil)
}

// DeleteTenant implements Operations.
func (c *Remote) DeleteTenant(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, path("tenants", id), nil, nil)
}

// CreateClient implements Operations.
func (c *Remote) CreateClient(ctx context.Context, req NewClient) (*ClientWithSecret, error) {
	return call[*ClientWithSecret](ctx, c, http.MethodPost, path("clients"), req)
}

// Clients implements Operations.
func (c *Remote) Clients(ctx context.Context, tenantID string) ([]Client, error) {
	return call[[]Client](ctx, c, http.MethodGet, withTenant(path("clients"), tenantID), nil)
}

// Client implements Operations.
func (c *Remote) Client(ctx context.Context, id string) (*Client, error) {
	return call[*Client](ctx, c, http.MethodGet, path("clients", id), nil)
}

// AddClientSecret implements Operations.
func (c *Remote) AddClientSecret(ctx context.Context, clientID string, req SecretLifetime) (*ClientWithSecret, error) {
	return call[*ClientWithSecret](ctx, c, http.MethodPost, path("clients", clientID, "secrets"), req)
}

// DeleteClientSecret implements Operations.
func (c *Remote) DeleteClientSecret(ctx context.Context, clientID, secretID string) (*Client, error) {
	return call[*Client](ctx, c, http.MethodDelete, path("clients", clientID, "secrets", secretID), nil)
}

// SetClientDisabled implements Operations.
func (c *Remote) SetClientDisabled(ctx context.Context, id string, disabled bool) (*Client, error) {
	return call[*Client](ctx, c, http.MethodPost, path("clients", id, toggle(disabled)), nil)
}

// DeleteClient implements Operations.
func (c *Remote) DeleteClient(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, path("clients", id), nil, nil)
}

// CreateAPIKey implements Operations.
func (c *Remote) CreateAPIKey(ctx context.Context, req NewAPIKey) (*APIKeyWithSecret, error) {
	return call[*APIKeyWithSecret](ctx, c, http.MethodPost, path("apikeys"), req)
}

// APIKeys implements Operations.
func (c *Remote) APIKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	return call[[]APIKey](ctx, c, http.MethodGet, withTenant(path("apikeys"), tenantID), nil)
}

// apiKeyPath is the path of API key id, plus action. A whole key given as
// id is refused here, as Local refuses it, before it is sent: in the URL
// its secret would reach every proxy and access log on the way.
func apiKeyPath(id string, action ...string) (string, error) {
	if secret.LooksLikeAPIKey(id) {
		return "", keyInsteadOfID(id)
	}
	return path(append([]string{"apikeys", id}, action...)...), nil
}

// APIKey implements Operations.
func (c *Remote) APIKey(ctx context.Context, id string) (*APIKey, error) {
	p, err := apiKeyPath(id)
	if err != nil {
		return nil, err
	}
	return call[*APIKey](ctx, c, http.MethodGet, p, nil)
}

// RotateAPIKey implements Operations.
func (c *Remote) RotateAPIKey(ctx context.Context, id string) (*APIKeyWithSecret, error) {
	p, err := apiKeyPath(id, "rotate")
	if err != nil {
		return nil, err
	}
	return call[*APIKeyWithSecret](ctx, c, http.MethodPost, p, nil)
}

// RevokeAPIKey implements Operations.
func (c *Remote) RevokeAPIKey(ctx context.Context, id string) (*APIKey, error) {
	p, err := apiKeyPath(id, "revoke")
	if err != nil {
		return nil, err
	}
	return call[*APIKey](ctx, c, http.MethodPost, p, nil)
}

// DeleteAPIKey implements Operations.
func (c *Remote) DeleteAPIKey(ctx context.Context, id string) error {
	p, err := apiKeyPath(id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil)
}

// CreateAdmin implements Operations.
func (c *Remote) CreateAdmin(ctx context.Context, tenantID string, req NewAdmin) (*AdminWithPassword, error) {
	return call[*AdminWithPassword](ctx, c, http.MethodPost, path("tenants", tenantID, "admins"), req)
}

// Admins implements Operations.
func (c *Remote) Admins(ctx context.Context, tenantID string) ([]Admin, error) {
	return call[[]Admin](ctx, c, http.MethodGet, path("tenants", tenantID, "admins"), nil)
}

// SetAdminPassword implements Operations.
func (c *Remote) SetAdminPassword(ctx context.Context, tenantID, username string, req NewPassword) (*AdminWithPassword, error) {
	return call[*AdminWithPassword](ctx, c, http.MethodPost, path("tenants", tenantID, "admins", username, "password"), req)
}

// DeleteAdmin implements Operations.
func (c *Remote) DeleteAdmin(ctx context.Context, tenantID, username string) error {
	return c.do(ctx, http.MethodDelete, path("tenants", tenantID, "admins", username), nil, nil)
}

// SigningKeys implements Operations.
func (c *Remote) SigningKeys(ctx context.Context) ([]keys.KeyInfo, error) {
	return call[[]keys.KeyInfo](ctx, c, http.MethodGet, path("keys"), nil)
}

// RotateSigningKey implements Operations.
func (c *Remote) RotateSigningKey(ctx context.Context) ([]keys.KeyInfo, error) {
	return call[[]keys.KeyInfo](ctx, c, http.MethodPost, path("keys", "rotate"), nil)
}

// RevokeSigningKey implements Operations.
func (c *Remote) RevokeSigningKey(ctx context.Context, kid string) ([]keys.KeyInfo, error) {
	return call[[]keys.KeyInfo](ctx, c, http.MethodPost, path("keys", kid, "revoke"), nil)
}

func toggle(disabled bool) string {
	if disabled {
		return "disable"
	}
	return "enable"
}
