package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls one server's API with one token.
type Client struct {
	Server string // the base URL, without a trailing slash
	Token  string
	HTTP   *http.Client
}

// Error is an error answer from the server.
type Error struct {
	Status  int
	Code    string
	Message string
	Details []json.RawMessage
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Do sends a request (a JSON body unless a Content-Type header says
// otherwise) and returns the body and header of a 2xx answer, or *Error.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, header ...string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error struct {
				Code    string            `json:"code"`
				Message string            `json:"message"`
				Details []json.RawMessage `json:"details"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			return nil, nil, &Error{Status: res.StatusCode, Code: http.StatusText(res.StatusCode), Message: strings.TrimSpace(string(b))}
		}
		return nil, nil, &Error{res.StatusCode, e.Error.Code, e.Error.Message, e.Error.Details}
	}
	return b, res.Header, nil
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	b, _, err := c.Do(ctx, "GET", path, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// EnvPath is the admin path of a project's environment: the un-prefixed
// one for DefaultProject (which servers from before projects answer too).
func EnvPath(project, env, rest string) string {
	if project == "" || project == DefaultProject {
		return "/api/v1/envs/" + url.PathEscape(env) + rest
	}
	return ProjectPath(project, "/envs/"+url.PathEscape(env)+rest)
}

// ProjectPath is a path under /api/v1/projects/{project}.
func ProjectPath(project, rest string) string {
	return "/api/v1/projects/" + url.PathEscape(project) + rest
}

// Definitions returns a project's current definitions text and version
// (0 and "" for a project nothing was pushed to).
func (c *Client) Definitions(ctx context.Context, project string) (string, int64, error) {
	b, h, err := c.Do(ctx, "GET", ProjectPath(project, "/definitions"), nil, "Accept", "application/yaml")
	if err != nil {
		return "", 0, err
	}
	v, err := strconv.ParseInt(strings.Trim(h.Get("ETag"), `"`), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("the server's ETag %q is not a version", h.Get("ETag"))
	}
	return string(b), v, nil
}

// DefinitionsVersion returns the text of version n of a project's definitions.
func (c *Client) DefinitionsVersion(ctx context.Context, project string, n int64) (string, error) {
	b, _, err := c.Do(ctx, "GET", ProjectPath(project, "/definitions/versions/"+strconv.FormatInt(n, 10)), nil, "Accept", "application/yaml")
	return string(b), err
}

// PushDefinitions publishes text as the project's definitions, made
// against version ifMatch (0 creates the project).
func (c *Client) PushDefinitions(ctx context.Context, project, text string, ifMatch int64, message string) (*PushResult, error) {
	b, _, err := c.Do(ctx, "PUT", ProjectPath(project, "/definitions"), []byte(text),
		"Content-Type", "application/yaml", "If-Match", strconv.Quote(strconv.FormatInt(ifMatch, 10)), "Vexil-Message", message)
	if err != nil {
		return nil, err
	}
	var out PushResult
	return &out, json.Unmarshal(b, &out)
}

// DefinitionsHistory lists a project's definitions versions, newest first.
func (c *Client) DefinitionsHistory(ctx context.Context, project string, limit int) (*DefinitionsVersions, error) {
	var out DefinitionsVersions
	return &out, c.getJSON(ctx, ProjectPath(project, "/definitions/versions?limit="+strconv.Itoa(limit)), &out)
}

// Projects lists the projects the token may see.
func (c *Client) Projects(ctx context.Context) (*Projects, error) {
	var out Projects
	return &out, c.getJSON(ctx, "/api/v1/projects", &out)
}

// Settings returns an environment's approval settings.
func (c *Client) Settings(ctx context.Context, project, env string) (*Settings, error) {
	var out Settings
	return &out, c.getJSON(ctx, EnvPath(project, env, "/settings"), &out)
}

// Changes lists an environment's change requests in state (all when ""),
// newest first.
func (c *Client) Changes(ctx context.Context, project, env, state string, limit int) (*ChangeRequests, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if state != "" {
		q.Set("state", state)
	}
	var out ChangeRequests
	return &out, c.getJSON(ctx, EnvPath(project, env, "/changes?"+q.Encode()), &out)
}

// Change returns one change request with its document, diff and, for
// targets (a JSON array of attribute objects, or nil), its impact.
func (c *Client) Change(ctx context.Context, project, env string, id int64, targets []byte) (*ChangeRequest, error) {
	path := EnvPath(project, env, "/changes/"+strconv.FormatInt(id, 10))
	if len(targets) > 0 {
		path += "?" + url.Values{"targets": {string(targets)}}.Encode()
	}
	var out ChangeRequest
	return &out, c.getJSON(ctx, path, &out)
}

// ReviewChange posts verdict (approve, reject, withdraw or apply) on a
// change request and returns the change as it then is.
func (c *Client) ReviewChange(ctx context.Context, project, env string, id int64, verdict string, req ReviewRequest) (*ChangeRequest, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	b, _, err := c.Do(ctx, "POST", EnvPath(project, env, "/changes/"+strconv.FormatInt(id, 10)+"/"+verdict), body)
	if err != nil {
		return nil, err
	}
	var out ChangeRequest
	return &out, json.Unmarshal(b, &out)
}
