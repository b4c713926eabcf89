package eksemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// call sends a raw request, as any REST-JSON client would.
func call(t *testing.T, srv *httptest.Server, method, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
	}
	return resp, v
}

func TestWireFormat(t *testing.T) {
	emu := New(Options{UpdateDuration: time.Hour})
	emu.AddCluster(ClusterSpec{Name: "c1", AuthMode: ModeAPIAndConfigMap})
	srv := httptest.NewServer(emu)
	defer srv.Close()

	resp, v := call(t, srv, "POST", "/clusters/c1/access-entries", `{"principalArn":"arn:aws:iam::111122223333:role/dev/x"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d %v", resp.StatusCode, v)
	}
	entry := v["accessEntry"].(map[string]any)
	if _, ok := entry["createdAt"].(float64); !ok {
		t.Errorf("createdAt = %#v, want a JSON number of epoch seconds", entry["createdAt"])
	}
	if groups, ok := entry["kubernetesGroups"].([]any); !ok || len(groups) != 0 {
		t.Errorf("kubernetesGroups = %#v, want [] (empty lists are sent, not omitted)", entry["kubernetesGroups"])
	}
	// Path labels are percent-encoded, '/' and ':' included.
	resp, v = call(t, srv, "GET", "/clusters/c1/access-entries/arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fdev%2Fx", "")
	if resp.StatusCode != 200 || v["accessEntry"].(map[string]any)["principalArn"] != "arn:aws:iam::111122223333:role/dev/x" {
		t.Errorf("describe by encoded ARN: %d %v", resp.StatusCode, v)
	}
	resp, v = call(t, srv, "GET", "/clusters/c1/access-entries/arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fmissing", "")
	if resp.StatusCode != 404 || resp.Header.Get("x-amzn-ErrorType") != "ResourceNotFoundException" || !strings.HasPrefix(v["message"].(string), "The specified principalArn could not be found.") {
		t.Errorf("missing entry: %d %s %v", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), v)
	}
	for i := range 3 {
		call(t, srv, "POST", "/clusters/c1/access-entries", `{"principalArn":"arn:aws:iam::111122223333:user/u`+string(rune('a'+i))+`"}`)
	}
	_, v = call(t, srv, "GET", "/clusters/c1/access-entries?maxResults=2", "")
	if len(v["accessEntries"].([]any)) != 2 || v["nextToken"] == nil {
		t.Fatalf("page 1 = %v", v)
	}
	_, v2 := call(t, srv, "GET", "/clusters/c1/access-entries?maxResults=2&nextToken="+v["nextToken"].(string), "")
	if len(v2["accessEntries"].([]any)) != 2 || v2["nextToken"] != nil {
		t.Errorf("page 2 = %v", v2)
	}
	if resp, _ := call(t, srv, "GET", "/clusters/c1/access-entries?maxResults=0", ""); resp.StatusCode != 400 {
		t.Errorf("maxResults=0: %d", resp.StatusCode)
	}

	// Authentication mode: one way, asynchronous, one update at a time.
	resp, v = call(t, srv, "POST", "/clusters/c1/update-config", `{"accessConfig":{"authenticationMode":"CONFIG_MAP"}}`)
	if resp.StatusCode != 400 || v["message"] != "Unsupported authentication mode update from API_AND_CONFIG_MAP to CONFIG_MAP" {
		t.Errorf("move back: %d %v", resp.StatusCode, v)
	}
	resp, v = call(t, srv, "POST", "/clusters/c1/update-config", `{"accessConfig":{"authenticationMode":"API"}}`)
	update := v["update"].(map[string]any)
	if resp.StatusCode != 200 || update["status"] != "InProgress" || update["params"].([]any)[0].(map[string]any)["value"] != `"API"` {
		t.Fatalf("move forward: %d %v", resp.StatusCode, v)
	}
	resp, v = call(t, srv, "POST", "/clusters/c1/update-config", `{"accessConfig":{"authenticationMode":"API"}}`)
	if resp.StatusCode != 409 || !strings.Contains(v["message"].(string), "currently has update") {
		t.Errorf("second update while one is in progress: %d %v", resp.StatusCode, v)
	}
	_, v = call(t, srv, "GET", "/clusters/c1", "")
	if v["cluster"].(map[string]any)["status"] != "UPDATING" {
		t.Errorf("cluster during update: %v", v["cluster"])
	}
}

func TestThrottling(t *testing.T) {
	emu := New(Options{ThrottleRate: 1})
	emu.AddCluster(ClusterSpec{Name: "c1"})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	resp, v := call(t, srv, "GET", "/clusters/c1", "")
	if resp.StatusCode != 429 || resp.Header.Get("x-amzn-ErrorType") != "ThrottlingException" || v["message"] != "Rate exceeded" {
		t.Errorf("throttled: %d %s %v", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), v)
	}
	if emu.Calls()["DescribeCluster"] != 1 {
		t.Errorf("calls = %v", emu.Calls())
	}
}
